package soak

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// instance is one Apache of the soak, with what the soak knows of it.
type instance struct {
	name   string
	hooked bool // started as the unit drop-in starts it
	tls    bool
	ap     *ipctest.Apache
	// guarded by soak.mu:
	running     bool // its master runs and the soak tracks its arrays
	busy        bool // a start or graceful restart is under way
	master      int
	masterTicks uint64
	arrays      map[int32]bool // made by its current generation
	// lastArrays are the arrays of its last start whose master is gone:
	// a hooked instance's before-start must remove them.
	lastArrays  map[int32]bool
	lastStarted bool // its last start succeeded and was recorded
	workerKills int  // SIGKILLs of its workers, the master living on
}

// instanceState is what a request's failure is set against: whether a
// fault or a restart touched its instance while it was in flight.
type instanceState struct {
	running, busy bool
	master        int
	masterTicks   uint64
	workerKills   int
}

// state is the instance's state now; the caller holds soak.mu.
func (in *instance) state() instanceState {
	return instanceState{in.running, in.busy, in.master, in.masterTicks, in.workerKills}
}

// unit is the systemd unit name the hooks record it under.
func (in *instance) unit() string { return in.name + ".service" }

// setupInstances draws the instances: two to four, each with or without
// the hooks, some with TLS and a pass-phrase dialog of up to 1.5 s.
func (s *soak) setupInstances() {
	r := s.rng(1)
	n := 2 + r.IntN(3)
	for i := range n {
		in := &instance{name: fmt.Sprintf("apache-soak-%d", i), hooked: i%2 == 0 || r.IntN(3) == 0}
		o := ipctest.ApacheOptions{}
		// The first two draws always give one slow TLS start with hooks
		// and one without: the start-up process's arrays are then listed
		// long before its master forks.
		if i < 2 || r.IntN(2) == 0 {
			in.tls = true
			o.TLS = true
			o.PassPhraseDelay = between(r, 300*time.Millisecond, 1500*time.Millisecond)
		}
		in.ap = ipctest.NewApacheWith(s.t, o)
		s.instances = append(s.instances, in)
		s.t.Logf("instance %s: hooks %v, TLS %v, pass-phrase %s", in.name, in.hooked, in.tls, o.PassPhraseDelay)
	}
}

// setupRecheckInstances makes the instances of scheduleRecheckWindows:
// two with TLS, a pass-phrase dialog the schedule answers, and no hooks
// (a unit's record would vouch for its start's arrays without any
// census).
func (s *soak) setupRecheckInstances() {
	r := s.rng(1)
	for i := range 2 {
		in := &instance{name: fmt.Sprintf("apache-soak-%d", i), tls: true}
		in.ap = ipctest.NewApacheWith(s.t, ipctest.ApacheOptions{TLS: true, PassPhraseDelay: dialogUnanswered})
		s.instances = append(s.instances, in)
		s.t.Logf("instance %s: hooks false, TLS true, pass-phrase answered by the schedule", in.name)
	}
	s.answerDialog = s.answerInPlanCensus(r)
}

// start starts the instance as its unit would (the before-start hook,
// apache2 -k start, the after-start hook) or bare, under the makers
// lock, and tracks every array that appears meanwhile as its own.
func (s *soak) start(in *instance) {
	s.makers.Lock()
	defer s.makers.Unlock()
	s.mu.Lock()
	if in.running || in.busy {
		s.mu.Unlock()
		return
	}
	in.busy = true
	last := maps.Clone(in.lastArrays)
	if !in.lastStarted {
		last = nil // a failed start is never recorded
	}
	deadMaster, deadTicks := in.master, in.masterTicks
	orphans := len(s.liveOrphansLocked())
	s.mu.Unlock()
	defer func() { s.mu.Lock(); in.busy = false; s.mu.Unlock() }()

	s.fig.fault(map[bool]string{true: "start with the hooks", false: "start without hooks"}[in.hooked])
	if in.hooked {
		// The last pids of the dead start's arrays are watched while
		// the hook runs: in a long run the namespace's pids wrap, and a
		// later process with one of those numbers keeps its array.
		var watch *lastPIDWatch
		if orphans == 0 && len(last) > 0 {
			watch = watchLastPIDs(last, deadMaster, deadTicks)
		}
		auditOff := auditSize()
		out, code := s.root("--before-start", "--unit", in.unit())
		watch.stop()
		s.fig.add(&s.fig.hooks, 1)
		if code != 0 {
			s.violate(false, "before-start of %s exited %d: %s", in.unit(), code, out)
		}
		// A record proves the last start's arrays leaked once its master
		// is gone and no orphan runs: the hook must have removed them,
		// unless a later process took an array's last pid and the hook
		// names it as what kept the array.
		hook := hookEntry(auditOff, in.unit())
		if orphans == 0 && !strings.Contains(out, "not done:") && (hook == nil || hook.Error == "") {
			now, recorded := semIDs(), s.recorded(in)
			for id := range last {
				if !now[id] || !recorded[id] {
					continue
				}
				pid, ticks := watch.of(id)
				if err := keptByReusedPID(id, pid, ticks, hook); err != nil {
					s.violate(false, "before-start of %s left semid %d of its dead start (%v): %s", in.unit(), id, err, strings.TrimSpace(out))
					continue
				}
				s.fig.add(&s.fig.keptReused, 1)
				s.t.Log(keptForReusedPIDMsg(in.unit(), id, pid, ticks))
			}
		}
	}
	before := semIDs()
	starting, err := in.ap.StartAsync()
	if err != nil {
		s.violate(false, "start %s: %v", in.name, err)
		return
	}
	if s.answerDialog != nil {
		go s.answerDialog(starting)
	}
	// Every array that appears while it starts is its own (nothing else
	// makes arrays meanwhile): polled, so one removed before the start
	// returns is seen too.
	seen := map[int32]bool{}
	done := make(chan error, 1)
	go func() { done <- starting.Wait() }()
	var werr error
	for waiting := true; waiting; {
		select {
		case werr = <-done:
			waiting = false
		case <-time.After(3 * time.Millisecond):
		}
		for id := range semIDs() {
			if !before[id] {
				seen[id] = true
			}
		}
	}
	if werr != nil {
		s.startFailed(in, werr, seen)
		return
	}
	master, err := in.ap.MasterPID()
	ticks := startTicks(master)
	if err != nil || ticks == 0 {
		s.violate(false, "%s started but has no master: %v", in.name, err)
		return
	}
	// Apache removes its first configuration pass's transient arrays
	// itself; what remains is the server's. One that vanished is a
	// finding only if a handler removed it (the audit log says which).
	now := semIDs()
	own := map[int32]bool{}
	for id := range seen {
		if now[id] {
			own[id] = true
		} else {
			s.vanished(id, in, master, ticks)
		}
	}
	s.mu.Lock()
	in.running, in.master, in.masterTicks, in.arrays, in.lastArrays, in.lastStarted = true, master, ticks, own, nil, in.hooked
	s.mu.Unlock()
	if in.hooked {
		out, code := s.root("--after-start", "--unit", in.unit(), "--main-pid", fmt.Sprint(master))
		if code != 0 {
			s.violate(false, "after-start of %s exited %d: %s", in.unit(), code, out)
		}
	}
}

// startFailed judges a failed start: without hooks, a full table
// (AH00023) is the outage the handler exists for; with them it must not
// happen unless other instances' arrays alone fill the table.
func (s *soak) startFailed(in *instance, err error, seen map[int32]bool) {
	msg := err.Error()
	s.fig.fault("start failed")
	s.mu.Lock()
	in.lastArrays, in.lastStarted = seen, false // a failed start's leftovers, if any, are leaks
	s.mu.Unlock()
	if !strings.Contains(msg, "AH00023") {
		s.t.Logf("start of %s failed (not a full table): %.300s", in.name, msg)
		return
	}
	if in.hooked {
		others := len(semIDs())
		if others+ipctest.ArraysPerApacheStart <= semmni {
			s.violate(false, "%s with the drop-in failed to start with AH00023 while %d of %d arrays were in use: %.300s", in.name, others, semmni, msg)
		}
	}
}

// markDown stops tracking an instance whose master the soak is about to
// kill: its arrays become leaks, or stay in use by its orphans.
func (s *soak) markDownLocked(in *instance) {
	if !in.running {
		return
	}
	in.running = false
	s.fig.add(&s.fig.leaked, len(in.arrays))
	in.lastArrays = in.arrays
	in.arrays = nil
}

// graceful restarts a running instance: its old generation's mutexes go
// (Apache removes them itself) and new ones appear.
func (s *soak) graceful(in *instance) {
	s.makers.Lock()
	defer s.makers.Unlock()
	s.mu.Lock()
	if !in.running || in.busy {
		s.mu.Unlock()
		return
	}
	in.busy = true
	s.mu.Unlock()
	before := semIDs()
	err := in.ap.Graceful()
	after := semIDs()
	s.mu.Lock()
	defer s.mu.Unlock()
	in.busy = false
	if err != nil {
		s.t.Logf("graceful restart of %s: %v", in.name, err)
		if !same(in.master, in.masterTicks) {
			s.markDownLocked(in)
		}
		return
	}
	arrays := map[int32]bool{}
	for id := range after {
		if !before[id] || in.arrays[id] {
			arrays[id] = true
		}
	}
	in.arrays = arrays
	s.fig.fault("graceful restart")
}

// kill applies one kind of SIGKILL to a running instance.
func (s *soak) kill(in *instance, r *rand.Rand) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !in.running || in.busy {
		return
	}
	workers := ipctest.ApacheChildren(in.master)
	switch k := r.IntN(3); {
	case k == 0 && len(workers) > 0:
		w := workers[r.IntN(len(workers))]
		if r.IntN(2) == 0 {
			_ = syscall.Kill(w, syscall.SIGKILL)
			in.workerKills++
			s.fig.fault("SIGKILL worker")
		} else {
			for _, w := range workers {
				_ = syscall.Kill(w, syscall.SIGKILL)
			}
			in.workerKills++
			s.fig.fault("SIGKILL all workers")
		}
	case k == 1:
		for _, w := range workers {
			if ticks := startTicks(w); ticks != 0 {
				s.orphans[w] = ticks
				s.everOrphan[orphanID{w, ticks}] = true
			}
		}
		s.markDownLocked(in)
		_ = syscall.Kill(in.master, syscall.SIGKILL)
		s.fig.fault("SIGKILL master")
	default:
		s.markDownLocked(in)
		_ = syscall.Kill(-in.master, syscall.SIGKILL)
		s.fig.fault("SIGKILL group")
	}
}

// orphanID is one process: its pid and its start ticks.
type orphanID struct {
	pid   int
	ticks uint64
}

// liveOrphansLocked lists the orphans that still run.
func (s *soak) liveOrphansLocked() []int {
	var out []int
	for pid, ticks := range s.orphans {
		if same(pid, ticks) {
			out = append(out, pid)
		} else {
			delete(s.orphans, pid)
		}
	}
	return out
}

// killOrphans ends the orphans the soak made (the supervisor's cleanup,
// not a handler's).
func (s *soak) killOrphans() {
	s.mu.Lock()
	pids := s.liveOrphansLocked()
	s.mu.Unlock()
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	waitGone(pids)
}

// waitGone waits up to 5 s for every pid to be gone (or a zombie).
func waitGone(pids []int) {
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for startTicks(pid) != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// crashAll SIGKILLs every instance at once: the outage.
func (s *soak) crashAll() {
	s.makers.Lock()
	defer s.makers.Unlock()
	s.mu.Lock()
	for _, in := range s.instances {
		s.markDownLocked(in)
	}
	clear(s.orphans)
	s.mu.Unlock()
	_ = ipctest.KillAll()
}

// startArray is an array that appeared during a successful start and was
// gone when it returned.
type startArray struct {
	name   string
	master int
	ticks  uint64
}

// vanished notes an array of a start that was gone when the start
// returned, and fails at once if a handler already said it removed it.
func (s *soak) vanished(id int32, in *instance, master int, ticks uint64) {
	s.mu.Lock()
	s.startVanished[id] = startArray{name: in.name, master: master, ticks: ticks}
	caller, ours := s.removedByUs[id]
	s.mu.Unlock()
	if ours && same(master, ticks) {
		s.violate(true, "semid %d, made while %s started (master %d now runs), was removed by a handler (caller %s)", id, in.name, master, caller)
		s.fig.add(&s.fig.liveRemoved, 1)
	}
}

// recorded is every semid the unit's record holds.
func (s *soak) recorded(in *instance) map[int32]bool {
	ids := map[int32]bool{}
	b, err := os.ReadFile(filepath.Join("/run/ipcwatch/units", in.unit()+".json"))
	if err != nil {
		return ids
	}
	var rec sysvipc.UnitRecord
	if json.Unmarshal(b, &rec) != nil {
		return ids
	}
	for _, st := range rec.Starts {
		for _, a := range st.Arrays {
			ids[a.SemID] = true
		}
	}
	return ids
}
