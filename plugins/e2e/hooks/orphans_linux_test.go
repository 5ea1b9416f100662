package hooks

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestOrphansOfKillModeProcess: a KillMode=process unit whose master was
// SIGKILLed leaves its workers running, holding the ports, while another
// Apache serves. The before-start hook neither kills them nor removes the
// arrays they may use, and says so; with --kill-orphans in the drop-in it
// ends them, removes the unit's arrays, and the unit starts again on the
// same ports. The other Apache is untouched throughout.
func TestOrphansOfKillModeProcess(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	neighbour, theirs := startNeighbour(t)
	defer ipctest.KillAll()
	h := newHost(t)
	u := &unit{name: "apache2.service", ap: ipctest.NewApache(t)}
	if _, _, err := h.start(t, u); err != nil {
		t.Fatal(err)
	}
	master, err := u.ap.MasterPID()
	if err != nil {
		t.Fatal(err)
	}
	workers := ipctest.ApacheChildren(master)
	if len(workers) == 0 {
		t.Fatalf("master %d has no workers", master)
	}
	if err := u.ap.KillMaster(); err != nil {
		t.Fatal(err)
	}

	before := h.hook(t, "--before-start", "--unit", u.name)
	wantLine(t, before, "removed 0 arrays", "orphaned Apache workers left running", "kill_orphans is off")
	ipctest.Gone(t, u.arrays, false, "the orphans' arrays without --kill-orphans")
	for _, w := range workers {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(w))); err != nil {
			t.Errorf("orphaned worker %d was killed without --kill-orphans", w)
		}
	}

	before, after, err := h.start(t, u, "--kill-orphans")
	if err != nil {
		t.Fatalf("the unit did not start again after --kill-orphans: %v", err)
	}
	wantLine(t, before, "ended "+strconv.Itoa(len(workers))+" orphaned Apache workers", "removed 3 arrays (3 witnessed leaks of dead starts)")
	wantLine(t, after, "recorded 3 arrays of master pid")
	if code, err := u.ap.Get("/index.html"); err != nil || code != 200 {
		t.Errorf("the unit on its old ports answers %d, %v", code, err)
	}
	healthy(t, neighbour, theirs, "the neighbour, after the orphans were ended")
}
