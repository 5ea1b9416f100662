package soak

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// semGETPID is semctl's GETPID: the pid of the last process to operate
// on (or set) a semaphore.
const semGETPID = 11

// semLastPID is the last pid of an array's semaphore 0; 0 when it is
// gone or never used.
func semLastPID(id int32) int {
	r, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, semGETPID, 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(r)
}

// lastPIDWatch follows, while a before-start runs, the last pids of a
// dead start's arrays: which of them a live process took again, one that
// started no earlier than the dead start's master (every process of that
// start being gone, it can only be a later one with the same number).
type lastPIDWatch struct {
	lastPID    map[int32]int
	deadMaster int
	deadTicks  uint64
	mu         sync.Mutex
	reused     map[int]uint64 // pid -> start ticks of the process seen
	stopped    chan struct{}
	done       chan struct{}
}

// watchLastPIDs reads each array's last pid now and watches those pids
// every 5 ms until stop.
func watchLastPIDs(arrays map[int32]bool, deadMaster int, deadTicks uint64) *lastPIDWatch {
	w := &lastPIDWatch{lastPID: map[int32]int{}, deadMaster: deadMaster, deadTicks: deadTicks, reused: map[int]uint64{},
		stopped: make(chan struct{}), done: make(chan struct{})}
	for id := range arrays {
		if pid := semLastPID(id); pid > 0 {
			w.lastPID[id] = pid
		}
	}
	w.look()
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stopped:
				w.look()
				return
			case <-time.After(5 * time.Millisecond):
				w.look()
			}
		}
	}()
	return w
}

func (w *lastPIDWatch) look() {
	for _, pid := range w.lastPID {
		ticks := startTicks(pid)
		if ticks == 0 || ticks < w.deadTicks || (pid == w.deadMaster && ticks == w.deadTicks) {
			continue
		}
		w.mu.Lock()
		w.reused[pid] = ticks
		w.mu.Unlock()
	}
}

// stop ends the watch; a nil watch is none.
func (w *lastPIDWatch) stop() {
	if w == nil {
		return
	}
	close(w.stopped)
	<-w.done
}

// of is an array's last pid and the start ticks of the later process
// seen with that number (0 if none).
func (w *lastPIDWatch) of(id int32) (int, uint64) {
	if w == nil {
		return 0, 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	pid := w.lastPID[id]
	return pid, w.reused[pid]
}

// hookEntry is the audit line of the unit's before-start written from
// offset on, nil if there is none.
func hookEntry(off int64, unit string) *auditEntry {
	entries, _, _ := readAudit(off)
	for i := range entries {
		if h := entries[i].Hook; h != nil && h.Unit == unit && h.Hook == "before-start" {
			return &entries[i]
		}
	}
	return nil
}

// auditSize is where the audit log ends now.
func auditSize() int64 {
	st, err := os.Stat(auditLog)
	if err != nil {
		return 0
	}
	return st.Size()
}

// takePID starts an idle process with the given pid (ns_last_pid set
// just below it), as a process that takes a dead one's number after the
// namespace's pids wrapped.
func takePID(t *testing.T, pid int) int {
	t.Helper()
	// The dead process may still be a zombie on its way to this init, and
	// its number stays taken while a process of the dead server (its
	// rewrite map's program) still has it as process group or session.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		for _, p := range inGroupOrSession(pid) {
			_ = syscall.Kill(p, syscall.SIGKILL)
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(p, &ws, syscall.WNOHANG, nil) // this init's, once a zombie
		}
		reapStrangers()
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil && len(inGroupOrSession(pid)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d is still taken (by %v)", pid, inGroupOrSession(pid))
		}
	}
	// Each miss is reaped at once: a goroutine left waiting on it would
	// hold an OS thread, and the runtime's next thread would take the pid.
	var got []int
	for range 100 {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Fatalf("ns_last_pid: %v", err)
		}
		cmd := exec.Command("/bin/sleep", "infinity")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: idleUID, Gid: idleUID}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if cmd.Process.Pid == pid {
			go func() { _ = cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			return pid
		}
		got = append(got, cmd.Process.Pid)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Fatalf("no process got pid %d (they got %v)", pid, got[:min(len(got), 10)])
	return 0
}

// TestBeforeStartKeepsArrayOfReusedPID: a hooked instance's group is
// SIGKILLed, and a process of another user takes the last pid of one of
// its arrays, as after the namespace's pids wrapped in a long run. The
// unit's next before-start keeps that array and names the process as its
// blocker: what the product promises, which the soak must accept without
// accepting any other array left behind. Once that process is gone, the
// next before-start removes the array.
func TestBeforeStartKeepsArrayOfReusedPID(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	in := prepareHost(t, "", 0)
	s := newSoak(t, in, fixedSeed, false)
	s.started = time.Now()
	inst := &instance{name: "apache-soak-reuse", hooked: true}
	inst.ap = ipctest.NewApacheWith(t, ipctest.ApacheOptions{})
	s.instances = []*instance{inst}

	s.start(inst)
	s.mu.Lock()
	running, arrays := inst.running, len(inst.arrays)
	s.mu.Unlock()
	if !running || arrays == 0 {
		t.Fatalf("the instance did not start with arrays (running %v, %d arrays): %q", running, arrays, s.violations)
	}
	s.mu.Lock()
	s.markDownLocked(inst)
	dead := inst.lastArrays
	s.mu.Unlock()
	if err := ipctest.KillAll(); err != nil {
		t.Fatal(err)
	}
	reapStrangers()
	var id int32
	var last int
	for a := range dead {
		if pid := semLastPID(a); pid > 0 {
			id, last = a, pid
			break
		}
	}
	if last == 0 {
		t.Fatalf("no array of the dead start has a last pid: %v", dead)
	}
	sleeper := takePID(t, last)
	t.Logf("semid %d's last pid %d is now an idle process of uid %d", id, sleeper, idleUID)

	s.start(inst)
	if len(s.violations) > 0 {
		t.Fatalf("the soak called a keep for a reused pid a failure: %q", s.violations)
	}
	if !semIDs()[id] {
		t.Fatalf("the before-start removed semid %d, whose last pid %d runs again", id, last)
	}
	if s.fig.keptReused == 0 {
		t.Errorf("the soak did not count semid %d as kept by a reused pid", id)
	}

	// The process gone and the server down, the array is a leak again.
	_ = syscall.Kill(sleeper, syscall.SIGKILL)
	waitGone([]int{sleeper})
	s.mu.Lock()
	s.markDownLocked(inst)
	s.mu.Unlock()
	if err := ipctest.KillAll(); err != nil {
		t.Fatal(err)
	}
	s.start(inst)
	if len(s.violations) > 0 {
		t.Fatalf("violations: %q", s.violations)
	}
	if semIDs()[id] {
		t.Errorf("semid %d outlived the before-start after its last pid %d was gone again", id, last)
	}
	s.stopAll()
}

// keptForReusedPIDMsg is how a keep for a reused pid is logged.
func keptForReusedPIDMsg(unit string, id int32, pid int, ticks uint64) string {
	return fmt.Sprintf("before-start of %s kept semid %d of its dead start: its last pid %d is a later process (start ticks %d), named as the blocker", unit, id, pid, ticks)
}

// keptByReusedPID judges an array of a unit's dead start that its
// before-start kept while no orphan of that start ran: acceptable only
// when its last pid is a later process's (seen running during the hook,
// started no earlier than the dead master: reusedTicks) and the hook's
// audit line says it kept the array for that very pid, as its blocker.
// Anything else is a leak the hook should have removed.
func keptByReusedPID(id int32, lastPID int, reusedTicks uint64, hook *auditEntry) error {
	switch {
	case lastPID <= 0:
		return fmt.Errorf("semid %d has no last pid", id)
	case reusedTicks == 0:
		return fmt.Errorf("semid %d's last pid %d ran no later process during the hook", id, lastPID)
	case hook == nil:
		return fmt.Errorf("semid %d: the hook wrote no audit line", id)
	}
	named := false
	if hook.Summary != nil {
		for _, k := range hook.Summary.Kept {
			named = named || k.By.PID == lastPID
		}
	}
	// The plan may have called it stale while the pid was free, and the
	// final re-check seen the later process and kept it ("last pid N is
	// alive now"): what the product promises too.
	recheckKept := false
	for _, a := range hook.Actions {
		recheckKept = recheckKept || (a.SemID == id && a.Outcome == "skipped" && strings.Contains(a.Why, fmt.Sprintf("last pid %d is alive now", lastPID)))
	}
	named = named || recheckKept
	for _, e := range hook.Evidence {
		if e.SemID != id {
			continue
		}
		if e.Verdict == "stale" && !recheckKept {
			return fmt.Errorf("semid %d: the hook judged it stale and left it", id)
		}
		if e.LastPID != lastPID {
			return fmt.Errorf("semid %d: the hook saw last pid %d, not %d", id, e.LastPID, lastPID)
		}
		named = named || e.BlockerPID == lastPID
	}
	if !named {
		return fmt.Errorf("semid %d: the hook's audit line does not name pid %d as what kept it", id, lastPID)
	}
	return nil
}

// TestKeptByReusedPIDJudgement: the soak accepts a kept array of a dead
// start only for a later process at its last pid that the hook names.
func TestKeptByReusedPIDJudgement(t *testing.T) {
	hook := func(verdict string, last, blocker, keptBy int) *auditEntry {
		var e auditEntry
		if err := json.Unmarshal([]byte(fmt.Sprintf(`{"summary":{"kept_by":[{"by":{"pid":%d}}]},"evidence":[{"semid":7,"last_pid":%d,"verdict":%q,"reasons":["last_pid_alive"],"blocker_pid":%d}]}`, keptBy, last, verdict, blocker)), &e); err != nil {
			t.Fatal(err)
		}
		return &e
	}
	recheck := func(e *auditEntry, why string) *auditEntry {
		e.Actions = append(e.Actions, struct {
			SemID   int32  `json:"semid"`
			Outcome string `json:"outcome"`
			Why     string `json:"why"`
		}{SemID: 7, Outcome: "skipped", Why: why})
		return e
	}
	for _, c := range []struct {
		name    string
		last    int
		reused  uint64
		hook    *auditEntry
		allowed bool
	}{
		{"a later process at the last pid, named", 900, 5000, hook("live", 900, 900, 900), true},
		{"named in the evidence alone", 900, 5000, hook("live", 900, 900, 1), true},
		{"named in kept_by alone", 900, 5000, hook("live", 900, 0, 900), true},
		{"no process at the last pid", 900, 0, hook("live", 900, 900, 900), false},
		{"another pid named", 900, 5000, hook("live", 900, 901, 901), false},
		{"the hook saw another last pid", 900, 5000, hook("live", 901, 900, 900), false},
		{"judged stale, yet left", 900, 5000, hook("stale", 900, 900, 900), false},
		{"judged stale, kept by the re-check for the later process", 900, 5000, recheck(hook("stale", 900, 0, 1), "last pid 900 is alive now"), true},
		{"judged stale, skipped for another reason", 900, 5000, recheck(hook("stale", 900, 0, 1), "changed since the plan"), false},
		{"no audit line", 900, 5000, nil, false},
		{"no last pid", 0, 5000, hook("live", 0, 0, 0), false},
	} {
		err := keptByReusedPID(7, c.last, c.reused, c.hook)
		if (err == nil) != c.allowed {
			t.Errorf("%s: allowed %v, want %v (%v)", c.name, err == nil, c.allowed, err)
		}
	}
}

// inGroupOrSession lists the processes whose process group or session is
// id (fields 5 and 6 of /proc/PID/stat).
func inGroupOrSession(id int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if i > 0 && len(f) > 3 && (f[2] == strconv.Itoa(id) || f[3] == strconv.Itoa(id)) && pid != os.Getpid() {
			out = append(out, pid)
		}
	}
	return out
}
