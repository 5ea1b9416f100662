package deployed

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// nagiosConfig is the nagios.cfg of a test's Nagios 4 with its files in
// dir: cfg holds its cfg_file (and resource_file) lines, user is whom it
// runs as; every interval is as short as Nagios allows.
func nagiosConfig(dir, cfg, user string) string {
	return strings.NewReplacer("{{dir}}", dir, "{{user}}", user).Replace(cfg + `log_file={{dir}}/nagios.log
status_file={{dir}}/status.dat
status_update_interval=1
lock_file={{dir}}/nagios.lock
query_socket={{dir}}/nagios.qh
object_cache_file={{dir}}/objects.cache
precached_object_file={{dir}}/objects.precache
temp_file={{dir}}/nagios.tmp
temp_path={{dir}}
check_result_path={{dir}}/checkresults
check_result_reaper_frequency=1
command_file={{dir}}/nagios.cmd
state_retention_file={{dir}}/retention.dat
retain_state_information=0
nagios_user={{user}}
nagios_group={{user}}
interval_length=1
enable_event_handlers=1
max_service_check_spread=1
use_syslog=0
illegal_macro_output_chars=` + "`" + `~$&|'"<>
`)
}

// leakGenerations fills SEMMNI with n SIGKILLed Apache starts (the outage:
// none runs) and returns the server, which cannot start again.
func leakGenerations(t *testing.T, n int) *ipctest.Apache {
	t.Helper()
	if err := ipctest.SetSemLimits(250, 32000, 32, n*ipctest.ArraysPerApacheStart); err != nil {
		t.Fatal(err)
	}
	ap := ipctest.NewApache(t)
	for range n {
		if err := ap.Start(); err != nil {
			t.Fatal(err)
		}
		if err := ipctest.KillAll(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = ipctest.KillAll() })
	return ap
}

// asInstalledHost makes this test's private mount namespace look like a
// host after make install: the installed sudoers rule in /etc/sudoers.d,
// empty /run and /var/log for the handler's lock and audit log, and
// root's policy in the installed remediate.conf (min_age 0s: the test's
// leak is seconds old; through sudo nobody else can lower it).
func asInstalledHost(t *testing.T, root string) {
	t.Helper()
	etc := filepath.Join(root, "etc")
	if err := os.WriteFile(filepath.Join(etc, "ipcwatch/remediate.conf"), []byte("min_age = \"0s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	privateRunAndLog(t)
	if err := unix.Mount(filepath.Join(etc, "sudoers.d"), "/etc/sudoers.d", "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind the installed sudoers.d: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount("/etc/sudoers.d", unix.MNT_DETACH) })
}

// privateRunAndLog mounts empty /run and /var/log in this test's private
// mount namespace: the daemons' pid files, sockets and logs, and the
// handler's lock and audit log, are the test's own.
func privateRunAndLog(t *testing.T) {
	t.Helper()
	for _, dir := range []string{"/run", "/var/log"} {
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
			t.Fatalf("tmpfs on %s: %v", dir, err)
		}
	}
}

// daemon is a monitoring daemon under test: started with its output
// kept, stopped (SIGTERM, then reaped) once, at the latest at cleanup.
type daemon struct {
	cmd     *exec.Cmd
	out     strings.Builder
	stopped bool
}

func startDaemon(t *testing.T, name string, args ...string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(name, args...)}
	d.cmd.Stdout, d.cmd.Stderr = &d.out, &d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	return d
}

func (d *daemon) stop() {
	if !d.stopped {
		d.stopped = true
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		_ = d.cmd.Wait()
	}
}

// running reports whether the daemon's process is still there and not a
// zombie waiting to be reaped.
func (d *daemon) running() bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !d.stopped && !strings.HasPrefix(rest, "Z")
}

// waitLog polls a log file until it matches, or the time is up, and
// returns what it held last.
func waitLog(path string, re *regexp.Regexp, limit time.Duration) string {
	var log string
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if log = string(b); re.MatchString(log) {
			break
		}
	}
	return log
}

// notAsRoot fails when a process of that name runs as root: the daemons
// must have dropped to the nagios user.
func notAsRoot(t *testing.T, name string) {
	t.Helper()
	if ps, err := exec.Command("ps", "-o", "user=", "-C", name).Output(); err == nil && strings.Contains(string(ps), "root") {
		t.Errorf("%s ran as root:\n%s", name, ps)
	}
}

// installedAudit reads the installed handler's audit log: every call must
// be the nagios user's, through sudo; it returns the calls and removals.
func installedAudit(t *testing.T) (calls, removed int) {
	t.Helper()
	f, err := os.Open("/var/log/ipcwatch/remediate.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); calls++ {
		var rec struct {
			Caller  string `json:"caller"`
			Actions []struct {
				Outcome string `json:"outcome"`
			} `json:"actions"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if !strings.HasPrefix(rec.Caller, "nagios (uid ") || !strings.HasSuffix(rec.Caller, ", through sudo)") {
			t.Errorf("audit caller %q, want nagios through sudo", rec.Caller)
		}
		for _, a := range rec.Actions {
			if a.Outcome == "removed" {
				removed++
			}
		}
	}
	return calls, removed
}

// answers fails unless the server starts and serves.
func answers(t *testing.T, ap *ipctest.Apache, when string) {
	t.Helper()
	if err := ap.Start(); err != nil {
		t.Errorf("apache %s: %v", when, err)
	} else if code, err := ap.Get("/index.html"); err != nil || code != 200 {
		t.Errorf("apache %s answers %d, %v", when, code, err)
	}
}

// must fails the test at once on an error of the setup.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
