package hooks

import (
	"os"
	"slices"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestLostRecord: /run emptied as by a reboot (the records gone, the
// arrays not, as after a checkpoint restore or a hand-cleaned /run). The
// normal rules decide: beside a running Apache the unit's leak stays
// (master_may_own); once no Apache runs at all, every leak older than the
// minimum age goes at the before-start.
func TestLostRecord(t *testing.T) {
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
	if err := u.ap.Crash(); err != nil {
		t.Fatal(err)
	}
	leaked := u.arrays
	if err := os.RemoveAll(h.stateDir); err != nil {
		t.Fatal(err)
	}
	// Even with no minimum age (root's policy may say so), the running
	// neighbour keeps the unrecorded leak (master_may_own, or
	// changed_after_master_start when both started within the same two
	// seconds).
	before := h.hook(t, "--before-start", "--unit", u.name, "--min-age", "0s")
	wantLine(t, before, "removed 0 arrays (0 witnessed")
	ipctest.Gone(t, leaked, false, "the unrecorded leak beside a running Apache")
	healthy(t, neighbour, theirs, "the neighbour")

	// The outage: no Apache at all, no record. The minimum age still
	// applies (a root daemon's lock between two short jobs looks like a
	// leak), so the seconds-old leaks stay; root's
	// policy may lower it, and then every leak goes and the unit starts.
	if err := ipctest.KillAll(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(h.stateDir); err != nil {
		t.Fatal(err)
	}
	before = h.hook(t, "--before-start", "--unit", u.name)
	wantLine(t, before, "removed 0 arrays (0 witnessed", "younger_than_min_age", "6 arrays kept only for their age would be stale: changed within min_age 5m0s, ",
		"if unchanged; the server starting now keeps them while it runs: restart it through its unit after then")
	ipctest.Gone(t, append(slices.Clone(leaked), theirs...), false, "the seconds-old leaks in the outage, with the minimum age")
	before, _, err := h.start(t, u, "--min-age", "0s")
	if err != nil {
		t.Fatalf("the unit did not start after the outage's before-start: %v", err)
	}
	wantLine(t, before, "removed 6 arrays (0 witnessed")
	ipctest.Gone(t, append(leaked, theirs...), true, "every leak in the outage with --min-age 0s")
}
