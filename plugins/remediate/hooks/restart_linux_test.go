package hooks

import (
	"slices"
	"strconv"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestNeighbourRestartInWindow (attack review, F1): another Apache, never
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
	if err := u.ap.Start(); err != nil {
		t.Fatal(err)
	}
	pid, err := u.ap.MasterPID()
	if err != nil {
		t.Fatal(err)
	}
	after := h.hook(t, "--after-start", "--unit", u.name, "--main-pid", strconv.Itoa(pid))
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

// TestWwwDataProgramInWindow (attack review, F2): while the unit starts,
// a www-data program that is not Apache makes a private one-semaphore
// array, starts a child to use it and exits, so the array's last user is
// gone when the after-start looks. It is not the unit's (a www-data
// program made it, cuid 33; Apache's start-up process runs as root), so
// it is neither recorded nor, after the unit crashes, removed.
func TestWwwDataProgramInWindow(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	defer ipctest.KillAll()
	h := newHost(t)
	u := &unit{name: "apache2.service", ap: ipctest.NewApache(t)}
	h.hook(t, "--before-start", "--unit", u.name)
	prog := ipctest.StartInheritedUser(t, 33, 0)
	if err := u.ap.Start(); err != nil {
		t.Fatal(err)
	}
	pid, err := u.ap.MasterPID()
	if err != nil {
		t.Fatal(err)
	}
	after := h.hook(t, "--after-start", "--unit", u.name, "--main-pid", strconv.Itoa(pid))
	wantLine(t, after, "made by uid 33")
	if slices.Contains(h.recorded(t, u.name), prog.ID) {
		t.Errorf("the www-data program's semid %d was recorded for the unit", prog.ID)
	}
	if err := u.ap.Crash(); err != nil {
		t.Fatal(err)
	}
	h.hook(t, "--before-start", "--unit", u.name)
	gone(t, []int32{prog.ID}, false, "the www-data program's array")
	if err := prog.Use(); err != nil {
		t.Errorf("the www-data program cannot use its array: %v", err)
	}
}
