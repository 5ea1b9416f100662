//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package sysvipc

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestApacheLeak runs a real Apache 2.4 in private IPC and PID namespaces,
// leaks its mutexes by SIGKILLing it, and checks the classifier against
// what is known: while a server runs, the dead servers' arrays are not
// provably stale (the running master may have made any older array in
// its start-up) and stay unknown; once no Apache runs they are stale;
// everything a live process may use never is.
func TestApacheLeak(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Room for three servers' mutexes and four test arrays, no more: the
	// fourth start of Apache then fails the way operators see it.
	must(ipctest.SetSemLimits(250, 32000, 32, 3*ipctest.ArraysPerApacheStart+4))
	ap := ipctest.NewApache(t)

	// Two crashes leak six arrays.
	must(ap.Start())
	must(ipctest.KillAll())
	must(ap.Start())
	must(ipctest.KillAll())
	leaked := ipctest.SemIDs(t)
	if len(leaked) != 2*ipctest.ArraysPerApacheStart {
		t.Fatalf("two crashed starts left %d arrays, want %d", len(leaked), 2*ipctest.ArraysPerApacheStart)
	}
	// The running server must start clearly after the leak (clockSlack).
	ipctest.WaitOlder(t, ipctest.PastSlack)
	must(ap.Start())
	running := without(ipctest.SemIDs(t), leaked)
	if len(running) != ipctest.ArraysPerApacheStart {
		t.Fatalf("running server has %d arrays, want %d", len(running), ipctest.ArraysPerApacheStart)
	}
	// Holders of www-data start clearly after the server's arrays were made;
	// a www-data process that old could have inherited them, and would make
	// them unknown once the server is gone.
	ipctest.WaitOlder(t, ipctest.PastSlack)
	other := ipctest.StartHolder(t, 1000, false)   // another user's mutex-shaped array
	locked := ipctest.StartHolder(t, 33, true)     // www-data array held by a live process
	touched := ipctest.StartHolder(t, 33, false)   // www-data array last touched by a live process
	keyed, err := ipctest.SemGet(0x4000, 1, 0o600) // keyed: made to be found again
	must(err)
	if err := ipctest.NewApache(t).Start(); err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Fatalf("a second apache at the limit: %v, want (28)No space left on device", err)
	}

	fs, err := NewDefaultFS()
	must(err)
	uids, err := LookupUsers(DefaultApacheUsers, false)
	must(err)
	pol := Policy{ApacheUIDs: UIDSet(uids), MinAge: 0, Now: time.Now()}
	arrays, err := fs.SemArrays()
	must(err)
	got, err := fs.Assess(arrays, Kernel{}, pol)
	must(err)
	t.Log(describe(got))
	sameCounts(t, fs, pol, got)
	if masters := got.Census.WithRole(RoleMaster); len(masters) != 1 {
		t.Errorf("census found %d masters, want 1", len(masters))
	}
	wantVerdicts(t, got, leaked, Unknown)
	wantVerdicts(t, got, running, Live)
	wantVerdicts(t, got, []int32{other.ID, locked.ID, touched.ID, keyed}, Live)
	for _, c := range got.Arrays {
		if c.Verdict == Unknown && !slices.Equal(c.Reasons, []Reason{ReasonMasterMayOwn}) {
			t.Errorf("semid %d unknown for %v, want master_may_own", c.Array.SemID, c.Reasons)
		}
	}
	if n := Count(got.Arrays, Stale); n != 0 {
		t.Errorf("%d stale arrays while a master runs: %s", n, describe(got))
	}

	// With no Apache left at all, www-data processes still run (the
	// holders): any of them may use any www-data array, so nothing is
	// stale yet.
	must(ipctest.KillAll())
	ipctest.WaitOlder(t, ipctest.PastSlack)
	pol.Now = time.Now()
	got, err = fs.Assess(arrays, Kernel{}, pol)
	must(err)
	sameCounts(t, fs, pol, got)
	wantVerdicts(t, got, append(slices.Clone(leaked), running...), Unknown)
	for _, c := range got.Arrays {
		if c.Verdict == Unknown && !slices.Equal(c.Reasons, []Reason{ReasonOwnerAlive}) {
			t.Errorf("semid %d unknown for %v, want owner_process_alive", c.Array.SemID, c.Reasons)
		}
	}
	// Once they are gone too, the servers' arrays are stale; another
	// user's and the keyed array still are not.
	locked.Stop()
	touched.Stop()
	pol.Now = time.Now()
	got, err = fs.Assess(arrays, Kernel{}, pol)
	must(err)
	sameCounts(t, fs, pol, got)
	wantVerdicts(t, got, append(slices.Clone(leaked), running...), Stale)
	wantVerdicts(t, got, []int32{other.ID, keyed}, Live)
	for _, c := range got.Stale() {
		if !slices.Equal(c.Reasons, []Reason{ReasonNoApache, ReasonLastPIDDead}) {
			t.Errorf("semid %d stale for %v, want no_apache_running and last_pid_dead", c.Array.SemID, c.Reasons)
		}
	}
}

// TestApacheOrphans: workers whose master was SIGKILLed keep running and
// may use the arrays their master made; those are unknown, not stale.
func TestApacheOrphans(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	ap := ipctest.NewApache(t)
	if err := ap.Start(); err != nil {
		t.Fatal(err)
	}
	ids := ipctest.SemIDs(t)
	if err := ap.KillMaster(); err != nil {
		t.Fatal(err)
	}
	ipctest.WaitOlder(t, ipctest.PastSlack)
	fs, err := NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	pol := Policy{ApacheUIDs: map[uint32]bool{33: true}, MinAge: 0, Now: time.Now()}
	arrays, err := fs.SemArrays()
	if err != nil {
		t.Fatal(err)
	}
	got, err := fs.Assess(arrays, Kernel{}, pol)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Census.WithRole(RoleOrphan)); n == 0 {
		t.Fatalf("no orphans found after killing the master: %s", describe(got))
	}
	for _, c := range got.Arrays {
		if slices.Contains(ids, c.Array.SemID) && c.Verdict == Stale {
			t.Errorf("semid %d is stale while orphaned workers live: %v", c.Array.SemID, c.Reasons)
		}
	}
	if err := ipctest.KillAll(); err != nil {
		t.Fatal(err)
	}
}

func without(all, drop []int32) []int32 {
	var out []int32
	for _, id := range all {
		if !slices.Contains(drop, id) {
			out = append(out, id)
		}
	}
	return out
}

// sameCounts checks that the check's fast path (probe as listed, census
// after) counts what the full assessment found.
func sameCounts(t *testing.T, fs FS, pol Policy, full Assessment) {
	t.Helper()
	counts, err := fs.AssessLiveCounts(pol)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(full.Tally, counts.Tally); diff != "" {
		t.Errorf("AssessLiveCounts disagrees with Assess (-assess +counts):\n%s", diff)
	}
}

func wantVerdicts(t *testing.T, a Assessment, ids []int32, want Verdict) {
	t.Helper()
	for _, id := range ids {
		i := slices.IndexFunc(a.Arrays, func(c Classification) bool { return c.Array.SemID == id })
		if i < 0 {
			t.Errorf("semid %d missing from the assessment", id)
			continue
		}
		if c := a.Arrays[i]; c.Verdict != want {
			t.Errorf("semid %d (uid %d) is %s %v, want %s", id, c.Array.UID, c.Verdict, c.Reasons, want)
		}
	}
}

func describe(a Assessment) string {
	var b strings.Builder
	for _, c := range a.Arrays {
		fmt.Fprintf(&b, "\n  semid %d key %d uid %d: %s %v pid %s", c.Array.SemID, c.Array.Key, c.Array.UID, c.Verdict, c.Reasons, c.PIDState)
	}
	return b.String()
}
