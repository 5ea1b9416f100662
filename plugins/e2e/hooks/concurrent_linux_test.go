package hooks

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestConcurrentStart: another instance starts at the same moment as the
// unit: its start-up process sits in a slow pass-phrase dialog, with its
// three arrays made, while the unit's hooks run and the unit starts. Then
// a third instance starts completely inside the unit's window (between
// before-start and after-start), so its start-up process is gone too.
// Neither's arrays may be recorded for the unit or removed; the unit's
// own dead start is removed all the same.
func TestConcurrentStart(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	h := newHost(t)
	u := &unit{name: "apache2.service", ap: ipctest.NewApache(t)}
	defer ipctest.KillAll()
	if _, _, err := h.start(t, u); err != nil {
		t.Fatal(err)
	}
	if err := u.ap.Crash(); err != nil {
		t.Fatal(err)
	}
	leaked := u.arrays

	// The slow instance: in its dialog for the whole of the unit's start.
	slow := ipctest.NewApacheWith(t, ipctest.ApacheOptions{TLS: true, PassPhraseDelay: 8 * time.Second})
	ids := ipctest.SemIDs(t)
	starting, err := slow.StartAsync()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := starting.WaitPassPhraseDialog(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	inDialog := newSince(t, ids)
	if len(inDialog) == 0 {
		t.Fatal("the slow instance made no array before its dialog")
	}
	before, after, err := h.start(t, u)
	if err != nil {
		t.Fatal(err)
	}
	// The line says how the dead start died, as far as the logs tell: in
	// this private PID namespace the kernel's pids are not its own, so
	// unknown.
	wantLine(t, before, "removed 3 arrays (3 witnessed leaks of dead starts)", "; 1 leaked generation: ", " cause unknown")
	wantLine(t, after, "recorded 3 arrays of master pid")
	ipctest.Gone(t, leaked, true, "the unit's dead start")
	ipctest.Gone(t, inDialog, false, "the slow instance's arrays, made in its dialog")
	for _, id := range h.recorded(t, u.name) {
		if slices.Contains(inDialog, id) {
			t.Errorf("the slow instance's semid %d was recorded for the unit", id)
		}
	}
	if err := starting.Wait(); err != nil {
		t.Fatalf("the slow instance did not start: %v", err)
	}
	slowArrays := newSince(t, ids)
	slowArrays = slices.DeleteFunc(slowArrays, func(id int32) bool { return slices.Contains(u.arrays, id) })

	// The fast instance starts inside the unit's window.
	if err := u.ap.Crash(); err != nil {
		t.Fatal(err)
	}
	fast := ipctest.NewApache(t)
	before = h.hook(t, "--before-start", "--unit", u.name)
	wantLine(t, before, "removed 3 arrays (3 witnessed leaks of dead starts)")
	ids = ipctest.SemIDs(t)
	if err := fast.Start(); err != nil {
		t.Fatal(err)
	}
	fastArrays := newSince(t, ids)
	// In a window where another instance started, only what the master
	// itself touched is recorded: not its session-cache mutex (last user
	// gone, like the fast one's), nor what a worker touched right at its
	// start (its pid might have been a gone neighbour's).
	after, err = h.startAfter(t, u)
	if err != nil {
		t.Fatal(err)
	}
	wantLine(t, after, "started meanwhile")
	recorded := h.recorded(t, u.name)
	if len(recorded) == 0 {
		t.Errorf("nothing recorded of the unit's start: %s", after)
	}
	for _, id := range recorded {
		if !slices.Contains(u.arrays, id) {
			t.Errorf("semid %d, not the unit's, was recorded for it", id)
		}
	}
	// The unit crashes again: its recorded arrays go, nothing else.
	if err := u.ap.Crash(); err != nil {
		t.Fatal(err)
	}
	before = h.hook(t, "--before-start", "--unit", u.name)
	wantLine(t, before, fmt.Sprintf("removed %d arrays (%d witnessed leaks of dead starts)", len(recorded), len(recorded)))
	ipctest.Gone(t, recorded, true, "the unit's recorded arrays")
	healthy(t, slow, slowArrays, "the slow instance, after the unit's hooks")
	healthy(t, fast, fastArrays, "the fast instance, after the unit's hooks")
}
