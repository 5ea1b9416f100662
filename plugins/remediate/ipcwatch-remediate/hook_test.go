package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// TestHookArguments: one hook, a unit named as systemd's %n names it, a
// main pid that may be empty (systemd knew none) but never garbage, and
// none of the event handler's state flags.
func TestHookArguments(t *testing.T) {
	ipctest.Require(t, os.Geteuid() == 0, "the hooks are root's; make test runs as root")
	good := []struct {
		args []string
		hook remediate.Hook
		pid  int
	}{
		{[]string{"--before-start", "--unit", "apache2.service"}, remediate.BeforeStart, 0},
		{[]string{"--after-start", "--unit", "apache2@www2.service", "--main-pid", "4242"}, remediate.AfterStart, 4242},
		{[]string{"--after-start", "--unit", `apache2@a\x2db.service`, "--main-pid", ""}, remediate.AfterStart, 0},
	}
	for _, tt := range good {
		o, err := parseArgs(tt.args)
		if err != nil || o.hook != tt.hook || o.mainPID != tt.pid {
			t.Errorf("%q: hook %q pid %d, %v", tt.args, o.hook, o.mainPID, err)
		}
	}
	bad := map[string][]string{
		"one hook per run":           {"--before-start", "--after-start", "--unit", "a.service"},
		"is not a systemd unit":      {"--before-start", "--unit", "../x.service"},
		"is not a systemd unit name": {"--before-start", "--unit", "apache2"},
		"only with --after-start":    {"--before-start", "--unit", "a.service", "--main-pid", "1"},
		"is not a process id":        {"--after-start", "--unit", "a.service", "--main-pid", "x"},
		"no event handler call":      {"--before-start", "--unit", "a.service", "--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3"},
		"only with --before-start":   {"--unit", "a.service"},
	}
	for want, args := range bad {
		if _, err := parseArgs(args); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want usage error %q", args, err, want)
		}
	}
}

// TestRecordTrust: records are read only from a root-owned directory no
// one else may write, and only files root alone could have written.
func TestRecordTrust(t *testing.T) {
	ipctest.Require(t, os.Geteuid() == 0, "ownership checks need root; make test runs as root")
	dir := filepath.Join(t.TempDir(), "units")
	if err := writeRecordForTest(dir, "a.service", "{}", 0o600); err != nil {
		t.Fatal(err)
	}
	// Readable by all, as the hooks write them: the check and the
	// Telegraf input judge by them too. Writable by a group: refused.
	if err := writeRecordForTest(dir, "b.service", "{}", 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeRecordForTest(dir, "e.service", "{}", 0o664); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "c.service.json")); err != nil {
		t.Fatal(err)
	}
	if err := writeRecordForTest(dir, "d.service", "{}", 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "d.service.json"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	recs, problems, err := readRecords(dir, false)
	if err != nil || len(recs) != 2 || recs["a.service"] == nil || recs["b.service"] == nil || len(problems) != 3 {
		t.Errorf("records %v, problems %q, %v", recs, problems, err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readRecords(dir, false); !errors.Is(err, errState) || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("world-writable state dir: %v", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readRecords(dir, false); !errors.Is(err, errState) || !strings.Contains(err.Error(), "belongs to uid 65534, not root") {
		t.Errorf("state dir of nobody: %v", err)
	}
}

func writeRecordForTest(dir, unit, body string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeRecord(dir, unit, []byte(body)); err != nil {
		return err
	}
	return os.Chmod(filepath.Join(dir, unit+".json"), mode)
}

// TestHookExitsZeroOnBadPolicy: a unit hook never stops Apache from
// starting. With root's policy file refused (a key misspelled, or a
// declared program's directory no longer root's), each hook says so on
// its one line and exits 0, as it does for a bad command line.
func TestHookExitsZeroOnBadPolicy(t *testing.T) {
	ipctest.Require(t, os.Geteuid() == 0, "the hooks are root's; make test runs as root")
	dir := t.TempDir()
	conf := filepath.Join(dir, "remediate.conf")
	if err := os.WriteFile(conf, []byte("min_agee = \"0s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--before-start", "--unit", "apache2.service"},
		{"--after-start", "--unit", "apache2.service", "--main-pid", "4242"},
	} {
		args = append(args, "--policy", conf, "--state-dir", filepath.Join(dir, "units"), "--audit-log", filepath.Join(dir, "audit.jsonl"), "--lock", filepath.Join(dir, "lock"))
		out, code := ipctest.RunLogged(t, exec.Command(filepath.Join(binDir, "ipcwatch-remediate"), args...))
		if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "policy file "+conf+": unknown key min_agee") {
			t.Errorf("%s: exit %d, want 0 and one line naming the file and the key:\n%s", args[0], code, out)
		}
	}
}
