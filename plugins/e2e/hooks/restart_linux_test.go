package hooks

import (
	"slices"
	"strconv"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestNeighbourRestartInWindow: another Apache, never
// recorded, restarts gracefully (a logrotate reload) while the unit
// starts, and a request through its rewrite map is served by a worker
// that then exits: its new rewrite-map mutex's last user is gone and no
// master is new in the window. The unit must not record it; once the unit
// crashes, its before-start must leave it, and the neighbour's map keeps
// working with nothing about its mutexes in its log.
func TestNeighbourRestartInWindow(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	neighbour := ipctest.NewApacheWith(t, ipctest.ApacheOptions{RecycleWorkers: true})
	if err := neighbour.Start(); err != nil {
		t.Fatal(err)
	}
	defer ipctest.KillAll()
	h := newHost(t)
	u := &unit{name: "apache2.service", ap: ipctest.NewApache(t)}
	h.hook(t, "--before-start", "--unit", u.name)
	if err := neighbour.Graceful(); err != nil {
		t.Fatal(err)
	}
	if code, err := neighbour.Get("/map/hello"); err != nil || code != 200 {
		t.Fatalf("the neighbour's map: %d, %v", code, err)
	}
	theirs := ipctest.SemIDs(t)
	after, err := h.startAfter(t, u)
	if err != nil {
		t.Fatal(err)
	}
	wantLine(t, after, "of the before-start is gone")
	for _, id := range h.recorded(t, u.name) {
		if slices.Contains(theirs, id) {
			t.Errorf("the neighbour's semid %d was recorded for the unit", id)
		}
	}
	if err := u.ap.Crash(); err != nil {
		t.Fatal(err)
	}
	h.hook(t, "--before-start", "--unit", u.name)
	healthy(t, neighbour, theirs, "the neighbour after the unit's before-start")
	for i := range 3 {
		if code, err := neighbour.Get("/map/x" + strconv.Itoa(i)); err != nil || code != 200 {
			t.Errorf("the neighbour's map after the unit's before-start: %d, %v", code, err)
		}
	}
	if errs := neighbour.MutexErrors(); len(errs) > 0 {
		t.Errorf("mutex errors in the neighbour's log: %v", errs)
	}
}

// TestProgramInWindow: while the unit starts,
// a program that is not Apache makes a private one-semaphore array owned
// by www-data, starts a child to use it and exits, so the array's last
// user is gone when the after-start looks: first a www-data program
// (cuid 33), then a root daemon that hands the array to www-data as
// Apache does (cuid 0). Neither array is recorded nor, after the unit
// crashes, removed; each child can still use its array.
func TestProgramInWindow(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	defer ipctest.KillAll()
	h := newHost(t)
	u := &unit{name: "apache2.service", ap: ipctest.NewApache(t)}
	for _, start := range []struct {
		name string
		run  func() *ipctest.InheritedUser
	}{
		{"a www-data program", func() *ipctest.InheritedUser { return ipctest.StartInheritedUser(t, 33, 0) }},
		{"a root daemon handing its array to www-data", func() *ipctest.InheritedUser { return ipctest.StartHandedUser(t, 33, 0) }},
	} {
		h.hook(t, "--before-start", "--unit", u.name)
		prog := start.run()
		after, err := h.startAfter(t, u)
		if err != nil {
			t.Fatal(err)
		}
		wantLine(t, after, "not recorded: ")
		if slices.Contains(h.recorded(t, u.name), prog.ID) {
			t.Errorf("%s: its semid %d was recorded for the unit", start.name, prog.ID)
		}
		if err := u.ap.Crash(); err != nil {
			t.Fatal(err)
		}
		h.hook(t, "--before-start", "--unit", u.name)
		ipctest.Gone(t, []int32{prog.ID}, false, start.name+"'s array")
		if err := prog.Use(); err != nil {
			t.Errorf("%s cannot use its array: %v", start.name, err)
		}
	}
}
