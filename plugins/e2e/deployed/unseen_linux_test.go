package deployed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestHiddenProcessesNotStale: /proc mounted hidepid=invisible, or
// hidepid=ptraceable (which no gid= exempts), hides every process but its
// own from the nagios user: a running Apache's master and workers look
// gone. The installed check as nagios (its file capability lets it read
// the arrays) must not count that server's arrays stale, whether it reads
// /proc or the same mount through a link named by HOST_PROC: it says the
// stale count was not measured and why. As root it sees every process
// and counts none stale.
func TestHiddenProcessesNotStale(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	root := installed(t)
	nagiosUID, nagiosGID := ipctest.Account(t, "nagios", 0)
	ap := ipctest.NewApache(t)
	if err := ap.Start(); err != nil {
		t.Fatal(err)
	}
	defer ipctest.KillAll()
	ipctest.WaitOlder(t, ipctest.PastSlack)
	link := filepath.Join(ipctest.WorldReadableDir(t, "ipcwatch-proc-"), "proc")
	if err := os.Symlink("/proc", link); err != nil {
		t.Fatal(err)
	}
	check := filepath.Join(root, "usr/lib/nagios/plugins/check_sysvipc")
	args := []string{"--stale-warning", "0", "--min-age", "0s", "-v"}
	for _, opts := range []string{fmt.Sprintf("hidepid=invisible,gid=%d", nagiosGID+1), fmt.Sprintf("hidepid=ptraceable,gid=%d", nagiosGID)} {
		if err := unix.Mount("proc", "/proc", "proc", unix.MS_REMOUNT, opts); err != nil {
			t.Fatalf("remount /proc %s: %v", opts, err)
		}
		out, code := runAs(t, 0, 0, "", check, args...)
		if code != 0 || !strings.Contains(out, " stale_arrays=0;0;;0;") {
			t.Errorf("%s: the check as root, a healthy Apache running: exit %d\n%s", opts, code, out)
		}
		// (Arrays a process waits on are live whatever the census says.)
		want := fmt.Sprintf("apache arrays judged without the processes /proc hides from uid %d (nagios)", nagiosUID)
		for _, env := range []string{"", "HOST_PROC=" + link} {
			out, code = runAsEnv(t, nagiosUID, nagiosGID, env, check, args...)
			if code != 3 || !strings.HasPrefix(out, "SYSVIPC UNKNOWN - stale apache arrays not measured: ") || !strings.Contains(out, want) || strings.Contains(out, "stale_arrays=") {
				t.Errorf("%s %s: the check as nagios: exit %d, want 3 and %q\n%s", opts, env, code, want, out)
			}
		}
	}
}

// TestUnreadableRecordsNotMeasured: a unit's crashed start is recorded, and
// the state directory is 0700 (as an older install left it): root's
// handler proves the dead start's arrays leaked; the check as nagios
// cannot read the records, so it does not print a stale count that would
// leave them out. It says which records it could not read.
func TestUnreadableRecordsNotMeasured(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	root := installed(t)
	asInstalledHost(t, root)
	nagiosUID, nagiosGID := ipctest.Account(t, "nagios", 0)
	running := ipctest.NewApache(t)
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	defer ipctest.KillAll()
	handler := filepath.Join(root, "usr/sbin/ipcwatch-remediate")
	unit := ipctest.NewApache(t)
	hook(t, handler, "--before-start", "--unit", "apache2.service")
	if err := unit.Start(); err != nil {
		t.Fatal(err)
	}
	pid, err := unit.MasterPID()
	if err != nil {
		t.Fatal(err)
	}
	hook(t, handler, "--after-start", "--unit", "apache2.service", "--main-pid", strconv.Itoa(pid))
	if err := unit.Crash(); err != nil {
		t.Fatal(err)
	}
	check := filepath.Join(root, "usr/lib/nagios/plugins/check_sysvipc")
	args := []string{"--stale-warning", "0", "-v"}
	out, _ := runAs(t, nagiosUID, nagiosGID, "", check, args...)
	if !strings.HasPrefix(out, fmt.Sprintf("SYSVIPC WARNING - %d stale apache arrays", ipctest.ArraysPerApacheStart)) {
		t.Fatalf("with the records readable, the check as nagios counts the dead start's arrays:\n%s", out)
	}
	want := fmt.Sprintf("apache arrays a unit record may prove leaked, and the records are unreadable as uid %d (nagios)", nagiosUID)
	for _, dir := range []string{"/run/ipcwatch/units", "/run/ipcwatch"} {
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		out, code := runAs(t, nagiosUID, nagiosGID, "", check, args...)
		if code != 3 || !strings.Contains(out, want) || strings.Contains(out, "stale_arrays=") || !strings.Contains(out, "unit records unreadable: /run/ipcwatch/units") {
			t.Errorf("with %s 0700, the check as nagios: exit %d, want 3, %q and the directory named\n%s", dir, code, want, out)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStateDirUnderUmask077: a unit with UMask=0077 runs the first hook
// that makes /run/ipcwatch/units: every directory it makes is 0755, so
// the monitoring users can read the records.
func TestStateDirUnderUmask077(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	root := installed(t)
	asInstalledHost(t, root)
	handler := filepath.Join(root, "usr/sbin/ipcwatch-remediate")
	out, code := ipctest.RunLogged(t, exec.Command("/bin/sh", "-c", `umask 077; exec "$0" --before-start --unit apache2.service`, handler))
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("the before-start hook: exit %d\n%s", code, out)
	}
	for _, dir := range []string{"/run/ipcwatch", "/run/ipcwatch/units"} {
		if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("%s under umask 077: %v, %v; want mode 0755", dir, st.Mode(), err)
		}
	}
}
