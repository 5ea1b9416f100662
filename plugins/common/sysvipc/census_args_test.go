package sysvipc

import "testing"

// TestForegroundArgs: a serving foreground Apache is never taken for a
// detached server's orphan, whatever form its flags take: -D and its name
// as two arguments (as apache2ctl and container images pass them), -X in a
// cluster, -C "Define FOREGROUND".
func TestForegroundArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"apache2", "-k", "start"}, false},
		{[]string{"/usr/sbin/apache2", "-f", "/etc/apache2/apache2.conf", "-k", "start"}, false},
		{[]string{"apache2", "-X"}, true},
		{[]string{"apache2", "-DFOREGROUND"}, true},
		{[]string{"apache2", "-D", "FOREGROUND"}, true},
		{[]string{"apache2", "-f", "c.conf", "-D", "ONE_PROCESS", "-D", "FOREGROUND"}, true},
		{[]string{"apache2", "-D", "NO_DETACH", "-k", "start"}, true},
		{[]string{"apache2", "-tX"}, true},
		{[]string{"apache2", "-D", "SSL", "-k", "start"}, false},
		{[]string{"apache2", "-f", "-X"}, false}, // -X is -f's value here
		{[]string{"apache2", "-fX.conf"}, false},
		{[]string{"apache2", "-C", "Define FOREGROUND"}, true},
		{[]string{"apache2", "-C", "ServerName x"}, false},
		{[]string{"apache2", "-k", "start", "-C", "Define ONE_PROCESS 1"}, true}, // a define with a value
		{[]string{"apache2", "-f", "c.conf", "-DDEBUG"}, true},                   // DEBUG runs one process
	} {
		if got := foregroundArgs(tc.args); got != tc.want {
			t.Errorf("foregroundArgs(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

// TestDaemonArgs: a one-process server whose
// config file defines FOREGROUND has a command line like any other; only
// a daemon's `-k start` (which its workers inherit) makes an orphan
// killable.
func TestDaemonArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"/usr/sbin/apache2", "-k", "start"}, true},
		{[]string{"apache2", "-f", "c.conf", "-k", "restart"}, true},
		{[]string{"apache2", "-kstart"}, true},
		{[]string{"apache2", "-f", "c.conf"}, false},
		{[]string{"apache2", "-k", "graceful"}, false},
		{[]string{"apache2", "-k"}, false},
	} {
		if got := daemonArgs(tc.args); got != tc.want {
			t.Errorf("daemonArgs(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
