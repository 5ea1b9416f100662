package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

func TestGate(t *testing.T) {
	tests := []struct {
		args []string
		act  bool
		why  string
	}{
		{nil, true, "manual run"},
		{[]string{"--dry-run"}, true, "manual run"},
		{[]string{"--state", "OK", "--state-type", "HARD", "--attempt", "1"}, false, "state OK"},
		{[]string{"--state", "WARNING", "--state-type", "HARD", "--attempt", "3"}, false, "state WARNING"},
		{[]string{"--state", "UNKNOWN", "--state-type", "HARD", "--attempt", "3"}, false, "state UNKNOWN"},
		{[]string{"--state", "CRITICAL", "--state-type", "SOFT", "--attempt", "1"}, false, "CRITICAL SOFT at attempt 1 (acting from 3)"},
		{[]string{"--state", "CRITICAL", "--state-type", "SOFT", "--attempt", "2"}, false, "CRITICAL SOFT at attempt 2 (acting from 3)"},
		{[]string{"--state", "CRITICAL", "--state-type", "SOFT", "--attempt", "3"}, true, "CRITICAL SOFT at attempt 3 (acting from 3)"},
		{[]string{"--state", "critical", "--state-type", "soft", "--attempt", "2", "--act-on-attempt", "2"}, true, "CRITICAL SOFT at attempt 2 (acting from 2)"},
		{[]string{"--state", "CRITICAL", "--state-type", "HARD", "--attempt", "1"}, true, "CRITICAL HARD"},
	}
	for _, tt := range tests {
		o, err := parseArgs(tt.args)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if act, why := gate(o); act != tt.act || why != tt.why {
			t.Errorf("gate(%v) = %v %q, want %v %q", tt.args, act, why, tt.act, tt.why)
		}
	}
}

func TestBadArguments(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--state", "CRITICAL"}, "usage: --state, --state-type and --attempt go together (Nagios: $SERVICESTATE$ $SERVICESTATETYPE$ $SERVICEATTEMPT$)"},
		{[]string{"--state", "CRITICAL", "--state-type", "MEDIUM", "--attempt", "1"}, `usage: --state-type: "MEDIUM" is not SOFT or HARD`},
		{[]string{"--state", "CRITICAL", "--state-type", "HARD", "--attempt", "0"}, "usage: --attempt: 0 is not a positive attempt number"},
		{[]string{"--max-removals", "-1"}, "usage: --max-removals: -1 is negative"},
		{[]string{"--min-age", "-5m"}, "usage: --min-age: -5m0s is negative"},
		{[]string{"--apache-user", ","}, "usage: --apache-user: no user given"},
		{[]string{"--bogus"}, "usage: flag provided but not defined: -bogus"},
		{[]string{"--apache-user", "no-such-user-here"}, `usage: --apache-user: unknown user: "no-such-user-here": user: unknown user no-such-user-here`},
		{[]string{"extra"}, `usage: unexpected argument "extra"`},
	}
	for _, tt := range tests {
		if _, err := parseArgs(tt.args); err == nil || err.Error() != tt.want {
			t.Errorf("parseArgs(%v) = %v, want %s", tt.args, err, tt.want)
		}
	}
}

// TestLockContention: a second handler while one runs fails at once.
func TestLockContention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "remediate.lock")
	release, err := lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock(path); err == nil || err.Error() != "another ipcwatch-remediate is running (lock "+path+" held)" {
		t.Errorf("second lock: %v", err)
	}
	release()
	again, err := lock(path)
	if err != nil {
		t.Errorf("lock after release: %v", err)
	} else {
		again()
	}
}

// TestTrust: a plugin is run only when its file is safe and its sha256 is
// the manifest's.
func TestTrust(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "ipcwatch-plugin-apache")
	write := func(path, content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(plugin, "the real plugin", 0o755)
	sum, err := remediate.FileSHA256(plugin)
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "SHA256SUMS")
	write(manifest, hexOf(sum)+"  ipcwatch-plugin-apache\n", 0o644)
	if _, err := trustPlugin(plugin, manifest); err != nil {
		t.Fatalf("the listed plugin is refused: %v", err)
	}

	write(plugin, "a tampered plugin", 0o755)
	got, _ := remediate.FileSHA256(plugin)
	want := "untrusted plugin: " + plugin + " has sha256 " + hexOf(got) + ", " + manifest + " lists " + hexOf(sum)
	if _, err := trustPlugin(plugin, manifest); err == nil || err.Error() != want {
		t.Errorf("tampered plugin: %v", err)
	}

	write(plugin, "the real plugin", 0o775)
	if _, err := trustPlugin(plugin, manifest); err == nil || !strings.Contains(err.Error(), "is writable by group or others (mode 0775)") {
		t.Errorf("group-writable plugin: %v", err)
	}

	other := filepath.Join(dir, "ipcwatch-plugin-other")
	write(other, "the real plugin", 0o755)
	if _, err := trustPlugin(other, manifest); err == nil || err.Error() != "untrusted plugin: ipcwatch-plugin-other is not listed in "+manifest {
		t.Errorf("unlisted plugin: %v", err)
	}
	if os.Getuid() == 0 {
		if err := os.Chown(other, 1000, 1000); err != nil {
			t.Fatal(err)
		}
		if _, err := trustPlugin(other, manifest); err == nil || !strings.Contains(err.Error(), "belongs to uid 1000, not root or the invoking user") {
			t.Errorf("plugin of another user: %v", err)
		}
	}

	write(plugin, "the real plugin", 0o755)
	write(manifest, "nothex  ipcwatch-plugin-apache\n", 0o644)
	if _, err := trustPlugin(plugin, manifest); err == nil || err.Error() != `untrusted plugin: plugin manifest `+manifest+` line 1: invalid sha256 "nothex"` {
		t.Errorf("bad manifest: %v", err)
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

// TestSudoRestrictions: run through sudo by the monitoring user, the
// handler refuses the flags that would let that user pick what runs as
// root or where root writes.
func TestSudoRestrictions(t *testing.T) {
	t.Setenv("SUDO_UID", "108")
	for _, flag := range []string{"--plugin", "--manifest", "--audit-log", "--lock"} {
		_, err := parseArgs([]string{flag, "/etc/passwd"})
		want := "usage: " + flag + ": not allowed through sudo (SUDO_UID 108); only root may choose what the handler runs or writes"
		if err == nil || err.Error() != want {
			t.Errorf("%s through sudo: %v", flag, err)
		}
	}
	if _, err := parseArgs([]string{"--state", "CRITICAL", "--state-type", "HARD", "--attempt", "2", "--dry-run"}); err != nil {
		t.Errorf("the handler's own flags through sudo: %v", err)
	}
	if _, err := parseArgs([]string{"--min-age", "0s"}); err == nil || err.Error() != "usage: --min-age: 0s is below 5m0s, not allowed through sudo (SUDO_UID 108)" {
		t.Errorf("--min-age 0s through sudo: %v", err)
	}
	t.Setenv("SUDO_UID", "0")
	if _, err := parseArgs([]string{"--audit-log", "/tmp/x"}); err != nil {
		t.Errorf("root through sudo: %v", err)
	}
}
