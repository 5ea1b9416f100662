//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package sysvipc

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestKernelInventory creates real objects in a private IPC namespace and
// checks that the files, the O(1) counts and IPC_INFO agree with what was
// made.
func TestKernelInventory(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ipctest.SetSemLimits(64, 1000, 32, 50))
	var semIDs []int32
	for i, nsems := range []int{1, 1, 3, 64} {
		id, err := ipctest.SemGet(int32(i*-1000), nsems, 0o600)
		must(err)
		must(ipctest.SemSetVal(id, 0, 1))
		semIDs = append(semIDs, id)
	}
	_, err := ipctest.ShmGet(0, 10000, 0o600)
	must(err)
	_, err = ipctest.ShmGet(42, 1, 0o644)
	must(err)
	q, err := ipctest.MsgGet(7, 0o600)
	must(err)
	must(ipctest.MsgSend(q, "hello"))
	must(ipctest.MsgSend(q, "world!"))

	fs, err := NewDefaultFS()
	must(err)
	if !fs.Live() {
		t.Fatal("/proc is not seen as a live procfs")
	}
	snap, err := fs.Snapshot()
	must(err)
	if len(snap.Sem) != 4 || len(snap.Shm) != 2 || len(snap.Msg) != 1 {
		t.Fatalf("inventory has %d sem, %d shm, %d msg; want 4, 2, 1", len(snap.Sem), len(snap.Shm), len(snap.Msg))
	}
	if got := snap.Sem[3]; got.NSems != 64 || got.Key != -3000 || got.SemID != semIDs[3] || got.Perms != 0o600 {
		t.Errorf("array 3 = %+v", got)
	}
	if got := snap.Msg[0]; got.QNum != 2 || got.CBytes != 11 || got.LSPID != int32(os.Getpid()) {
		t.Errorf("queue = %+v", got)
	}

	listed, err := KernelSemArrays()
	must(err)
	if diff := cmp.Diff(snap.Sem, listed); diff != "" {
		t.Errorf("SEM_STAT_ANY disagrees with /proc/sysvipc/sem (-file +kernel):\n%s", diff)
	}

	kernel, err := KernelUsage()
	must(err)
	want := snap.Usage()
	want.Source = "kernel"
	if diff := cmp.Diff(want, kernel); diff != "" {
		t.Errorf("SEM/SHM/MSG_INFO disagree with the files (-files +kernel):\n%s", diff)
	}
	fromFS, err := fs.Usage()
	must(err)
	if fromFS.Source != "kernel" {
		t.Errorf("live FS counted from %q, want the kernel", fromFS.Source)
	}

	if l := snap.Limits; l.SEMMSL != 64 || l.SEMMNS != 1000 || l.SEMOPM != 32 || l.SEMMNI != 50 {
		t.Errorf("limits from files = %+v, want kernel.sem 64 1000 32 50", l)
	}
	ipcInfo, err := KernelLimits()
	must(err)
	if diff := cmp.Diff(snap.Limits, ipcInfo, cmpopts.IgnoreFields(Limits{}, "Source")); diff != "" {
		t.Errorf("IPC_INFO disagrees with /proc/sys/kernel (-files +ipc_info):\n%s", diff)
	}
}

// TestKernelProbe checks semctl detail against known operations, a
// blocked waiter and a removed array.
func TestKernelProbe(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	id, err := ipctest.SemGet(0, 1, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := ipctest.SemSetVal(id, 0, 1); err != nil {
		t.Fatal(err)
	}
	row, err := Kernel{}.StatSem(id)
	if err != nil {
		t.Fatal(err)
	}
	if row.NSems != 1 || row.Key != 0 || row.Perms != 0o600 || row.UID != 0 || row.SemID != id {
		t.Errorf("IPC_STAT after SETVAL: %+v", row)
	}
	if row.OTime != 0 || time.Since(time.Unix(row.CTime, 0)) > time.Minute {
		t.Errorf("times after SETVAL: otime %d ctime %d", row.OTime, row.CTime)
	}
	d, err := Kernel{}.ProbeSem(row)
	if err != nil {
		t.Fatal(err)
	}
	if d.Value != 1 || d.PID != os.Getpid() || d.NCnt != 0 || d.ZCnt != 0 {
		t.Errorf("after SETVAL 1: %+v", d)
	}

	// Lock it, then block a second locker: one waiter on an increase.
	if err := ipctest.SemOp(id, 0, -1); err != nil {
		t.Fatal(err)
	}
	go func() { _ = ipctest.SemOp(id, 0, -1) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err = Kernel{}.ProbeSem(row)
		if err != nil {
			t.Fatal(err)
		}
		if d.NCnt == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d.NCnt != 1 || d.Value != 0 {
		t.Errorf("locked with one waiter: %+v", d)
	}
	if row, err = (Kernel{}).StatSem(id); err != nil || row.OTime == 0 {
		t.Errorf("IPC_STAT after semop: otime %d, %v", row.OTime, err)
	}

	if err := (Kernel{}).RemoveSem(id); err != nil {
		t.Fatal(err)
	}
	if _, err := (Kernel{}).ProbeSem(row); !errors.Is(err, ErrGone) {
		t.Errorf("probe of a removed array: %v, want ErrGone", err)
	}
	if _, err := (Kernel{}).StatSem(id); !errors.Is(err, ErrGone) {
		t.Errorf("IPC_STAT of a removed array: %v, want ErrGone", err)
	}
}

// TestLimitsFallback hides /proc/sys (as some sandboxes do) under an
// empty tmpfs in the test's own mount namespace: the limits then come from
// IPC_INFO, with the same numbers.
func TestLimitsFallback(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	if err := ipctest.SetSemLimits(77, 7000, 17, 70); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", "/proc/sys", "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount("/proc/sys", 0)
	fs, err := NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	l, err := fs.Limits()
	if err != nil {
		t.Fatal(err)
	}
	if l.Source != "ipc_info" || l.SEMMSL != 77 || l.SEMMNS != 7000 || l.SEMOPM != 17 || l.SEMMNI != 70 || l.SEMVMX != SEMVMX || l.MSGMNI == 0 {
		t.Errorf("limits with /proc/sys hidden: %+v", l)
	}
}

// TestLiveCounts checks the probe-as-listed path against listing first and
// assessing after, on a table with holes (closed up in place) and on a
// mostly free one (which it hands to the other path).
func TestLiveCounts(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	fs, err := NewDefaultFS()
	must(err)
	pol := Policy{ApacheUIDs: map[uint32]bool{33: true}, Now: time.Now()}
	cand := func(a SemArray) bool { ok, _ := pol.Candidate(a); return ok }
	compare := func(stage string, wantSparse bool, wantStale int) {
		t.Helper()
		// Now, not the test's start: an array made after pol.Now would
		// be younger than the minimum age of 0 (a slow -race fill).
		pol.Now = time.Now()
		arrays, probes, err := kernelSemProbed(2, cand)
		if wantSparse {
			if !errors.Is(err, errSparse) {
				t.Fatalf("%s: kernelSemProbed = %v, want errSparse", stage, err)
			}
		} else {
			must(err)
			listed, err := KernelSemArrays()
			must(err)
			if diff := cmp.Diff(listed, arrays); diff != "" {
				t.Errorf("%s: arrays probed as listed differ from the listing (-listed +probed):\n%s", stage, diff)
			}
			for i, a := range arrays {
				d, err := Kernel{}.ProbeSem(a)
				var want packedAnswer
				if cand(a) {
					want = packedAnswer{value: int32(d.Value), ncnt: int32(d.NCnt), zcnt: int32(d.ZCnt), pid: int32(d.PID), err: err}
				}
				if probes[i] != want {
					t.Errorf("%s: semid %d probed %+v as listed, %+v after", stage, a.SemID, probes[i], want)
				}
			}
		}
		listed, err := fs.LiveSemArrays()
		must(err)
		all, err := fs.Assess(listed, Kernel{}, pol)
		must(err)
		counts, err := fs.AssessLiveCounts(pol)
		must(err)
		if diff := cmp.Diff(all.Tally, counts.Tally); diff != "" {
			t.Errorf("%s: counts differ (-assess +live counts):\n%s", stage, diff)
		}
		if counts.Tally.Stale != wantStale {
			t.Errorf("%s: %d stale, want %d: %+v", stage, counts.Tally.Stale, wantStale, counts.Tally)
		}
		if all.Tally.Stale+all.Tally.Live+all.Tally.Unknown != len(listed) {
			t.Errorf("%s: tally %+v does not cover %d arrays", stage, all.Tally, len(listed))
		}
	}

	// Leaked www-data arrays (stale: no process of www-data or Apache
	// runs), ones the test holds (live: value 0, or its own last pid),
	// another user's, a keyed one and a three-semaphore one.
	ipctest.Fill(t, 40, 33)
	for v := range 2 {
		id, err := ipctest.SemGet(0, 1, 0o600)
		must(err)
		must(ipctest.SemSetVal(id, 0, v))
		must(ipctest.SemChown(id, 33, 33))
	}
	other, err := ipctest.SemGet(0, 1, 0o600)
	must(err)
	must(ipctest.SemChown(other, 1000, 1000))
	_, err = ipctest.SemGet(0x4000, 1, 0o600)
	must(err)
	_, err = ipctest.SemGet(0, 3, 0o600)
	must(err)
	compare("full table", false, 40)
	for i, id := range ipctest.SemIDs(t) {
		if i%2 == 0 {
			must(ipctest.SemRemove(id))
		}
	}
	compare("every other array removed", false, 20)
	// 1,200 more fill the holes and beyond; keeping only the last two
	// leaves indexes up to 1,200 for two arrays.
	ipctest.Fill(t, 1200, 33)
	ids := ipctest.SemIDs(t)
	for _, id := range ids[:len(ids)-2] {
		must(ipctest.SemRemove(id))
	}
	compare("two arrays at the end of a long table", true, 2)
}

// TestListingWhileStacksMove lists and probes from goroutines at every
// stack depth up to a few kilobytes past a growth boundary, while the
// collector keeps shrinking stacks: a syscall buffer on a stack that
// moves on the way into the call must still receive each array's own
// detail. With the buffer passed as a uintptr the kernel wrote into the
// old stack, and arrays were dropped or listed with the previous index's
// key, owner and size.
func TestListingWhileStacksMove(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	type shape struct {
		key   int32
		uid   uint32
		nsems uint64
	}
	want := map[int32]shape{}
	for i := range 600 {
		// Alternate leak-shaped www-data arrays and root's keyed pairs, so
		// that one array's detail in its neighbour's slot shows.
		key, nsems, uid := int32(0), 1, uint32(33)
		if i%2 == 1 {
			key, nsems, uid = int32(5000+i), 2, 0
		}
		id, err := ipctest.SemGet(key, nsems, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if uid != 0 {
			if err := ipctest.SemChown(id, uid, uid); err != nil {
				t.Fatal(err)
			}
		}
		want[id] = shape{key, uid, uint64(nsems)}
	}
	cand := func(a SemArray) bool { return a.Key == 0 && a.NSems == 1 && a.UID == 33 }
	check := func(how string, depth int, arrays []SemArray) {
		t.Helper()
		if len(arrays) != len(want) {
			t.Fatalf("%s at depth %d: listed %d of %d arrays", how, depth, len(arrays), len(want))
		}
		for _, a := range arrays {
			if got := (shape{a.Key, a.UID, a.NSems}); got != want[a.SemID] {
				t.Fatalf("%s at depth %d: semid %d listed as %+v, is %+v", how, depth, a.SemID, got, want[a.SemID])
			}
		}
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC() // shrinks idle goroutines' stacks
			}
		}
	}()
	// Where the stack grows depends on the runtime's adaptive starting
	// size, and a shrink on when the collector runs: sweep several times.
	for i := range 2000 {
		depth := i % 400
		done := make(chan struct{})
		var listed, probed []SemArray
		var errL, errP error
		go func() {
			defer close(done)
			atDepth(depth, func() {
				listed, errL = kernelSemArrays(1)
				probed, _, errP = kernelSemProbed(1, cand)
			})
		}()
		<-done
		if errL != nil || errP != nil {
			t.Fatalf("depth %d: %v, %v", depth, errL, errP)
		}
		check("SEM_STAT_ANY listing", depth, listed)
		check("listing with probes", depth, probed)
	}
}

// atDepth calls f with depth frames of 64 bytes below it.
//
//go:noinline
func atDepth(depth int, f func()) byte {
	var pad [64]byte
	pad[depth%64] = byte(depth)
	if depth == 0 {
		f()
		return pad[0]
	}
	return atDepth(depth-1, f) + pad[1]
}
