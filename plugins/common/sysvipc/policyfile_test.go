package sysvipc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestPolicyFileNeighbours: root's policy file declares neighbours by the
// whole path of a root-owned executable in root-owned directories; any
// other declaration is refused with the file, the key and the reason.
func TestPolicyFileNeighbours(t *testing.T) {
	ipctest.Require(t, os.Geteuid() == 0, "ownership checks need root; make test runs as root")
	dir := ipctest.WorldReadableDir(t, "ipcwatch-policy-")
	exe := func(name string, mode os.FileMode, uid int) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, uid, uid); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := exe("worker", 0o755, 0)
	theirs := exe("theirs", 0o755, 1000)
	writable := exe("writable", 0o775, 0)
	plain := exe("plain", 0o644, 0)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	userDir := filepath.Join(dir, "user")
	if err := os.Mkdir(userDir, 0o755); err != nil {
		t.Fatal(err)
	}
	inUserDir := filepath.Join(userDir, "tool")
	if err := os.WriteFile(inUserDir, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(userDir, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	linkedDir := filepath.Join(dir, "linked")
	if err := os.Symlink(dir, linkedDir); err != nil {
		t.Fatal(err)
	}
	uwsgi := exe("uwsgi", 0o755, 0)
	apache := exe("apache2", 0o755, 0)
	conf := filepath.Join(dir, "remediate.conf")
	load := func(neighbours string) (*PolicyFile, error) {
		if err := os.WriteFile(conf, []byte("neighbours = ["+neighbours+"]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return LoadPolicyFile(conf)
	}
	pf, err := load(`"` + good + `"`)
	if err != nil || !pf.NeighbourSet()[good] || len(pf.NeighbourSet()) != 1 {
		t.Fatalf("a root-owned executable: %v, %v", pf, err)
	}
	// A program removed (or being upgraded) stays declared: a process
	// still running the removed file shows that path.
	gone := filepath.Join(dir, "removed")
	if pf, err := load(`"` + gone + `"`); err != nil || !pf.NeighbourSet()[gone] {
		t.Errorf("a removed program in root's directory: %v, %v", pf, err)
	}
	for _, tt := range []struct{ name, path, want string }{
		{"relative", "nginx", `neighbours: "nginx": not an absolute path`},
		{"unclean", dir + "/./worker", "not a clean path"},
		{"symlink", link, "a symbolic link (to " + good + "): declare the executable itself"},
		{"another owner", theirs, "belongs to uid 1000, not root"},
		{"group-writable", writable, "writable by group or others (mode 0775)"},
		{"not executable", plain, "not an executable regular file"},
		{"in a user's directory", inUserDir, userDir + ", above it: belongs to uid 1000, not root"},
		{"missing, in a user's directory", filepath.Join(userDir, "gone"), "missing, and its directory " + userDir + ": belongs to uid 1000, not root"},
		{"through a linked directory", filepath.Join(linkedDir, "worker"), "a linked directory above it makes it " + good},
		{"uWSGI", uwsgi, "uWSGI locks with System V semaphores"},
		{"Apache", apache, "Apache itself"},
	} {
		_, err := load(`"` + tt.path + `"`)
		if err == nil || !strings.HasPrefix(err.Error(), "policy file "+conf+": neighbours: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want the file, the key and %q", tt.name, err, tt.want)
		}
	}
}

// TestKeptLines: the kept lines are bounded, name each blocker with its
// executable, and give one fix per reason, the declaration ready to copy.
func TestKeptLines(t *testing.T) {
	start := time.Date(2026, 12, 4, 21, 40, 1, 0, time.UTC)
	var ks []Kept
	for i := range 7 {
		ks = append(ks, Kept{Reason: ReasonOwnerAlive, Arrays: 10 - i, By: ProcessInfo{PID: 800 + i, User: "www-data", Exe: "/usr/sbin/nginx", Start: start, Cmdline: "nginx: worker process"}})
	}
	ks = append(ks, Kept{Reason: ReasonMasterMayOwn, Arrays: 1, By: ProcessInfo{PID: 700, User: "root", Exe: "/usr/sbin/apache2", Start: start, Cmdline: "/usr/sbin/apache2 -k start"}})
	SortKept(ks)
	got := KeptLines(ks, 3, "/etc/ipcwatch/remediate.conf")
	want := []string{
		"10 arrays owner_process_alive: kept by pid 800 (www-data, /usr/sbin/nginx, started 2026-12-04T21:40:01Z: nginx: worker process)",
		"9 arrays owner_process_alive: kept by pid 801 (www-data, /usr/sbin/nginx, started 2026-12-04T21:40:01Z: nginx: worker process)",
		"8 arrays owner_process_alive: kept by pid 802 (www-data, /usr/sbin/nginx, started 2026-12-04T21:40:01Z: nginx: worker process)",
		"and 5 more processes keep 23 arrays",
		`fix (owner_process_alive): if it never uses System V semaphores at all (nginx, a PHP CLI without sysvsem), declare it a neighbour in /etc/ipcwatch/remediate.conf (neighbours = ["/usr/sbin/nginx"]); a program that locks with them (uWSGI's ipcsem lock engine, a daemon that makes a lock as root and drops to this user) must never be declared: stop it, or leave the arrays until it exits`,
		"fix (master_may_own): restart that Apache through its unit (systemctl restart apache2): with the unit drop-in on (ipcwatch-witness.conf, which make install and the packages put in place), its before-start hook removes what no process can use while it is stopped, and every start's arrays are recorded from then on, so a dead start's are proven leaks beside a running Apache",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kept lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if long := shorten(strings.Repeat("é", 100)); len(long) > maxCmdline || !strings.HasSuffix(long, "...") {
		t.Errorf("a long command line is cut to %d bytes: %q", len(long), long)
	}
}

// TestKeptLineControlCharacters: a process's command line, command name
// and executable path are its owner's to choose; a newline, a carriage
// return or an escape sequence in them never reaches the output, where it
// could forge a line (a Nagios status, a hook's journal line).
func TestKeptLineControlCharacters(t *testing.T) {
	p := &Process{PID: 7, EUID: 33, Comm: "x\ny", ExePath: "/tmp/a\rb", Start: time.Unix(0, 0)}
	info := ProcessInfoOf(p)
	info.Cmdline = shorten(Printable("evil\nSYSVIPC OK - forged | stale_arrays=0\x1b[2K\r"))
	line := KeptLines([]Kept{{Reason: ReasonOwnerAlive, Arrays: 1, By: info}}, 5, "/etc/ipcwatch/remediate.conf")[0]
	if strings.ContainsAny(line, "\n\r\x1b") {
		t.Errorf("a control character reached the kept line: %q", line)
	}
	if want := "evil?SYSVIPC OK - forged | stale_arrays=0?[2K?"; !strings.Contains(line, want) {
		t.Errorf("kept line %q lacks the command line with ? for each control character (%q)", line, want)
	}
	if got := ProcessInfoOf(p); got.Exe != "/tmp/a?b" || got.Cmdline != "[x?y]" {
		t.Errorf("executable %q and command name %q keep a control character", got.Exe, got.Cmdline)
	}
}

// TestRunningServerKeepsNothing: the running server's own master or worker
// as an array's live last user keeps nothing: -v on a healthy host names
// no blocker and gives no advice to stop it. An orphaned worker or any
// other process as the live last user does keep it.
func TestRunningServerKeepsNothing(t *testing.T) {
	for _, tt := range []struct {
		role Role
		kept bool
	}{{RoleMaster, false}, {RoleWorker, false}, {RoleOrphan, true}, {RoleNone, true}} {
		c := Classification{Verdict: Live, Reasons: []Reason{ReasonLastPIDAlive}, Blocker: &Process{PID: 9, Role: tt.role}}
		if got := BlockedBy(c) != nil; got != tt.kept {
			t.Errorf("last user with role %q: kept by it %v, want %v", tt.role, got, tt.kept)
		}
	}
	// A live last user may have only taken the pid of the array's real
	// last user: the advice never says to end it for its pid alone.
	if a := Advice(ReasonLastPIDAlive, nil, ""); !strings.Contains(a, "or took that process's pid after it exited") || !strings.Contains(a, "end it only if it is a dead server's leftover") {
		t.Errorf("last_pid_alive advice: %q", a)
	}
}
