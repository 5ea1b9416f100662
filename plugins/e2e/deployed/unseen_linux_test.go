package deployed

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestHiddenProcessesNotStale: /proc mounted hidepid=invisible hides every
// process but its own from the nagios user: a running Apache's master and
// workers look gone. The installed check as nagios (its file capability
// lets it read the arrays) must not count that server's arrays stale: it
// says the stale count was not measured and why. As root it sees every
// process and counts none stale.
func TestHiddenProcessesNotStale(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	root := installed(t)
	nagiosUID, nagiosGID := account(t, "nagios", 0)
	ap := ipctest.NewApache(t)
	if err := ap.Start(); err != nil {
		t.Fatal(err)
	}
	defer ipctest.KillAll()
	ipctest.WaitOlder(t, ipctest.PastSlack)
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_REMOUNT, "hidepid=invisible"); err != nil {
		t.Fatalf("remount /proc hidepid=invisible: %v", err)
	}
	check := filepath.Join(root, "usr/lib/nagios/plugins/check_sysvipc")
	args := []string{"--stale-warning", "0", "--min-age", "0s", "-v"}
	out, code := runAs(t, 0, 0, "", check, args...)
	if code != 0 || !strings.Contains(out, " stale_arrays=0;0;;0;") {
		t.Errorf("the check as root, a healthy Apache running: exit %d\n%s", code, out)
	}
	out, code = runAs(t, nagiosUID, nagiosGID, "", check, args...)
	// (Arrays a process waits on are live whatever the census says.)
	want := fmt.Sprintf("apache arrays judged without the processes /proc hides from uid %d (nagios)", nagiosUID)
	if code != 3 || !strings.HasPrefix(out, "SYSVIPC UNKNOWN - stale apache arrays not measured: ") || !strings.Contains(out, want) || strings.Contains(out, "stale_arrays=") {
		t.Errorf("the check as nagios under hidepid: exit %d, want 3 and %q\n%s", code, want, out)
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
	nagiosUID, nagiosGID := account(t, "nagios", 0)
	running := ipctest.NewApache(t)
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	defer ipctest.KillAll()
	handler := filepath.Join(root, "usr/lib/ipcwatch/ipcwatch-remediate")
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
	if err := os.Chmod("/run/ipcwatch/units", 0o700); err != nil {
		t.Fatal(err)
	}
	out, code := runAs(t, nagiosUID, nagiosGID, "", check, args...)
	want := fmt.Sprintf("apache arrays a unit record may prove leaked, and the records are unreadable as uid %d (nagios)", nagiosUID)
	if code != 3 || !strings.Contains(out, want) || strings.Contains(out, "stale_arrays=") || !strings.Contains(out, "unit records unreadable: /run/ipcwatch/units") {
		t.Errorf("with the records unreadable, the check as nagios: exit %d, want 3, %q and the directory named\n%s", code, want, out)
	}
}
