package main

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
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

// TestHelp: --help is the usage and exit 3 (main), like a monitoring
// plugin's -h, not "flag: help requested".
func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		_, err := parseArgs([]string{arg})
		if !errors.Is(err, errHelp) || !strings.Contains(err.Error(), "usage: ipcwatch-remediate [--state STATE") || !strings.Contains(err.Error(), "-min-age duration") {
			t.Errorf("%s: %v", arg, err)
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
		{[]string{"--min-age", "9223372036s"}, "usage: --min-age: 2562047h47m16s is above the maximum 8760h0m0s"},
		{[]string{"--min-age", "9223372037s"}, `usage: invalid value "9223372037s" for flag -min-age: parse error`},
		{[]string{"--pid", "4294967296"}, "usage: --pid: 4294967296 is not a process id (1 to 4194304)"},
		{[]string{"--pid", "-1"}, "usage: --pid: -1 is not a process id (1 to 4194304)"},
		{[]string{"--max-removals", "2147483648"}, "usage: --max-removals: 2147483648 is above the maximum 2147483647"},
		{[]string{"--state", "CRITICAL", "--state-type", "HARD", "--attempt", "2147483648"}, "usage: --attempt and --act-on-attempt: at most 2147483647"},
		{[]string{"--orphan-grace", "11m"}, "usage: --orphan-grace: 11m0s is above the maximum 10m0s"},
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
	for _, flag := range []string{"--plugin", "--manifest", "--audit-log", "--lock", "--apache-user", "--kill-orphans"} {
		arg := flag + "=/etc/passwd"
		if flag == "--kill-orphans" {
			arg = flag
		}
		_, err := parseArgs([]string{arg})
		want := "usage: " + flag + ": not allowed through sudo (SUDO_UID 108); only root may choose what the handler runs, writes or judges"
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
	// The caller cannot widen whose arrays are judged, in any spelling.
	for _, users := range []string{"4242", "www-data,4242", "root"} {
		if _, err := parseArgs([]string{"--apache-user", users}); err == nil || !strings.Contains(err.Error(), "--apache-user: not allowed through sudo") {
			t.Errorf("--apache-user %s through sudo: %v", users, err)
		}
	}
	// Overflowing numbers are refused before any conversion.
	for _, args := range [][]string{{"--min-age", "9223372036s"}, {"--pid", "4294967296"}, {"--pid", "4294967297"}, {"--max-removals", "4294967296"}} {
		if _, err := parseArgs(args); err == nil || !errors.Is(err, errUsage) {
			t.Errorf("%v through sudo: %v", args, err)
		}
	}
	t.Setenv("SUDO_UID", "0")
	if _, err := parseArgs([]string{"--audit-log", "/tmp/x"}); err != nil {
		t.Errorf("root through sudo: %v", err)
	}
}

// TestPolicyFile: root's policy file fills what the command line leaves;
// through sudo it is the only way below the 5-minute floor; an unsafe or
// misspelled file is refused, naming the file and why.
func TestPolicyFile(t *testing.T) {
	ipctest.Require(t, os.Geteuid() == 0, "the policy file must belong to root")
	dir := t.TempDir()
	path := filepath.Join(dir, "remediate.conf")
	write := func(content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("apache_users = [\"www-data\"]\nmin_age = \"0s\"\nmax_removals = 7\nkill_orphans = true\n", 0o644)
	o, err := parseArgs([]string{"--policy", path})
	if err != nil || o.minAge != 0 || o.maxRemovals != 7 || !o.killOrphans || strings.Join(o.apacheUsers, ",") != "www-data" || o.policyRead != path {
		t.Errorf("policy file as root: %+v, %v", o, err)
	}
	if o, err := parseArgs([]string{"--policy", path, "--max-removals", "3"}); err != nil || o.maxRemovals != 3 {
		t.Errorf("a flag given by root overrides the file: %d, %v", o.maxRemovals, err)
	}

	saved := defaultPolicyFile
	defaultPolicyFile = path
	t.Cleanup(func() { defaultPolicyFile = saved })
	t.Setenv("SUDO_UID", "108")
	if o, err := parseArgs([]string{"--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3"}); err != nil || o.minAge != 0 || !o.killOrphans {
		t.Errorf("through sudo, root's file chooses: min age %s, kill orphans %v, %v", o.minAge, o.killOrphans, err)
	}
	if _, err := parseArgs([]string{"--min-age", "0s"}); err == nil || !strings.Contains(err.Error(), "--min-age: 0s is below 5m0s, not allowed through sudo") {
		t.Errorf("through sudo, the caller's --min-age 0s: %v", err)
	}
	if _, err := parseArgs([]string{"--policy", path}); err == nil || !strings.Contains(err.Error(), "--policy: not allowed through sudo") {
		t.Errorf("through sudo, --policy: %v", err)
	}
	t.Setenv("SUDO_UID", "")

	for _, tt := range []struct {
		content string
		mode    os.FileMode
		want    string
	}{
		{"min_age = \"0s\"\n", 0o664, "policy file " + path + ": writable by group or others (mode 0664)"},
		{"min_agee = \"0s\"\n", 0o644, "policy file " + path + ": unknown key min_agee (known: apache_users, min_age, max_removals, kill_orphans, neighbours)"},
		{"min_age = \"soon\"\n", 0o644, "policy file " + path + ": min_age: time: invalid duration \"soon\""},
		{"min_age = \"9223372036s\"\n", 0o644, "policy file " + path + ": min_age: 2562047h47m16s is above the maximum 8760h0m0s"},
		{"apache_users = [\"www-dat\"]\n", 0o644, "policy file " + path + ": apache_users: unknown user: \"www-dat\": user: unknown user www-dat"},
		{"max_removals = \"many\"\n", 0o644, "policy file " + path + ": toml: line 1 (last key \"max_removals\"): incompatible types: TOML value has type string; destination has type integer"},
	} {
		write(tt.content, tt.mode)
		if _, err := parseArgs([]string{"--policy", path}); err == nil || err.Error() != tt.want {
			t.Errorf("policy %q mode %04o: %v\nwant %s", tt.content, tt.mode, err, tt.want)
		}
	}
	write("min_age = \"0s\"\n", 0o644)
	if err := os.Chown(path, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := parseArgs([]string{"--policy", path}); err == nil || err.Error() != "policy file "+path+": belongs to uid 1000, not root" {
		t.Errorf("a policy file of uid 1000: %v", err)
	}
}
