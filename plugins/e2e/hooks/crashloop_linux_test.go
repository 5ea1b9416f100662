package hooks

import (
	"fmt"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestCrashLoopBesideNeighbour: SEMMNI 8, room for two generations of
// three arrays and the neighbour's three. A second Apache with its own
// config, never recorded, runs throughout. The unit is SIGKILLed (master
// and workers) and started again twenty times, each start as systemd
// runs it. Without the hooks the second start fails with AH00023.
func TestCrashLoopBesideNeighbour(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	if err := ipctest.SetSemLimits(250, 32000, 32, 8); err != nil {
		t.Fatal(err)
	}
	neighbour, theirs := startNeighbour(t)
	defer ipctest.KillAll()
	h := newHost(t)
	u := &unit{name: "apache2.service", ap: ipctest.NewApache(t)}
	per := ipctest.ArraysPerApacheStart
	for cycle := 1; cycle <= 20; cycle++ {
		when := fmt.Sprintf("cycle %d", cycle)
		before, after, err := h.start(t, u)
		if err != nil {
			t.Fatalf("%s: the unit did not start: %v", when, err)
		}
		if cycle > 1 {
			wantLine(t, before, fmt.Sprintf("removed %d arrays (%d witnessed leaks of dead starts)", per, per))
		}
		wantLine(t, after, fmt.Sprintf("recorded %d arrays of master pid", per))
		if n := len(ipctest.SemIDs(t)); n != len(theirs)+per {
			t.Errorf("%s: %d arrays with both running, want %d", when, n, len(theirs)+per)
		}
		if code, err := u.ap.Get("/index.html"); err != nil || code != 200 {
			t.Errorf("%s: the unit answers %d, %v", when, code, err)
		}
		healthy(t, neighbour, theirs, "the neighbour, "+when)
		if err := u.ap.Crash(); err != nil {
			t.Fatal(err)
		}
		// The leak is one generation at most: this crash's.
		if n := len(ipctest.SemIDs(t)); n != len(theirs)+per {
			t.Errorf("%s: %d arrays after the crash, want %d", when, n, len(theirs)+per)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	healthy(t, neighbour, theirs, "the neighbour, after twenty crashes")
}
