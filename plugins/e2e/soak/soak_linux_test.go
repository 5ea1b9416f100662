package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// semmni is the soak's array table: room for a few instances and a few
// leaked generations, so a leak pile-up reaches the outage quickly.
const semmni = 18

// soak is one seed's run.
type soak struct {
	t       *testing.T
	seed    int64
	in      installed
	started time.Time
	// makers serializes everything that makes arrays (Apache starts and
	// graceful restarts), so the arrays that appear during one belong
	// to it.
	makers sync.Mutex
	// mu guards the instances' state, the orphans and the neighbours.
	mu        sync.Mutex
	instances []*instance
	// orphans are workers left by a master the soak killed alone, with
	// their start ticks: the only processes a handler may kill.
	orphans map[int]uint64
	// everOrphan is every orphan the soak ever made, by pid and start
	// ticks: in a long run its pid may be another process's later.
	everOrphan map[orphanID]bool
	// startVanished are arrays made during a start that returned
	// without them; removedByUs are the arrays the audit log says a
	// handler removed, with the caller.
	startVanished map[int32]startArray
	removedByUs   map[int32]string
	neighbours    neighbours
	fig           figures
	// violations are invariant failures, each with when it was seen.
	vmu        sync.Mutex
	violations []string
	firstLive  time.Duration // when the first live array was removed, 0 if never
	liveMsgs   []string
	// stopOnLive ends the run at the first live array removed.
	stopOnLive bool
	cancel     context.CancelFunc
	// oom is the instance in a memory cgroup of its own, nil when the
	// run has none; telegraf is the real Telegraf gathering throughout.
	oom      *oomInstance
	telegraf *realTelegraf
	// handlers are the pids of the sudo processes of the handler calls
	// under way; answerDialog, when set, answers each start's
	// pass-phrase dialog (scheduleRecheckWindows).
	handlers     sync.Map
	answerDialog func(*ipctest.StartingApache)
	// decoys are idle processes with the namespace's lowest pids, each
	// ended to free its pid for a master (scheduleRecheckWindows).
	decoys []int
	// history is what the monitor saw, for judging a count whose
	// moment is known only from its timestamp.
	history history
}

// schedule chooses what a run does.
type schedule int

const (
	// scheduleChaos is the whole chaos: every fault kind, weighted.
	scheduleChaos schedule = iota
	// scheduleRecheckWindows repeats only the windows in which the
	// handler's final re-check is what keeps a live array: the outage,
	// then at once a TLS start without the hooks whose master takes a
	// pid the plan's census has already read, while the handler runs
	// back to back (answerInPlanCensus).
	scheduleRecheckWindows
)

// violate records an invariant failure.
func (s *soak) violate(live bool, format string, args ...any) {
	at := time.Since(s.started).Round(10 * time.Millisecond)
	msg := fmt.Sprintf("%s (seed %d, at %s)", fmt.Sprintf(format, args...), s.seed, at)
	s.vmu.Lock()
	defer s.vmu.Unlock()
	if live && s.firstLive == 0 {
		s.firstLive = at
	}
	if live {
		s.liveMsgs = append(s.liveMsgs, msg)
	}
	if len(s.violations) < 50 {
		s.violations = append(s.violations, msg)
		s.t.Log("VIOLATION: " + msg)
	}
	if live && s.stopOnLive && s.cancel != nil {
		s.cancel()
	}
}

// rng is a generator drawn from the seed for one goroutine of the run:
// each loop has its own stream, so its draws replay whatever the others
// do.
func (s *soak) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(s.seed), stream))
}

// between draws a duration in [lo, hi).
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// sleep waits d or until the run ends; false when it ended.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// newSoak is a run with nothing started yet.
func newSoak(t *testing.T, in installed, seed int64, stopOnLive bool) *soak {
	return &soak{t: t, seed: seed, in: in, orphans: map[int]uint64{}, everOrphan: map[orphanID]bool{}, startVanished: map[int32]startArray{}, removedByUs: map[int32]string{}, stopOnLive: stopOnLive}
}

// runSoak runs one seed for d and returns the run (its violations and
// figures).
func runSoak(t *testing.T, in installed, seed int64, d time.Duration, sched schedule, decoys ...int) *soak {
	s := newSoak(t, in, seed, sched == scheduleRecheckWindows)
	s.decoys = decoys
	t.Logf("soak seed %d for %s; %s", seed, d, replayLine(seed, d))
	s.neighbours.idle = in.idle
	var loops []func(context.Context)
	switch sched {
	case scheduleRecheckWindows:
		s.setupRecheckInstances()
		loops = []func(context.Context){
			s.recheckWindows, s.handlerLoop(11, 0), s.monitor,
		}
	default:
		s.setupInstances()
		s.setupOOMInstance()
		s.telegraf = startRealTelegraf(t, in)
		loops = []func(context.Context){
			s.chaos, s.load, s.load, s.handlerLoop(11, 400*time.Millisecond), s.handlerLoop(12, 400*time.Millisecond),
			s.checkLoop, s.gatherLoop, s.telegrafLoop, s.monitor,
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	s.cancel = cancel
	defer cancel()
	s.started = time.Now()
	var wg sync.WaitGroup
	for _, loop := range loops {
		wg.Add(1)
		go func() { defer wg.Done(); loop(ctx) }()
	}
	wg.Wait()
	ran := time.Since(s.started)
	if !s.stopOnLive {
		s.finish()
	}
	s.stopAll()
	s.telegraf.stop()
	s.logEvidence()
	t.Log("\n" + s.fig.report(seed, ran) + replayLine(seed, d))
	return s
}

// TestSoak runs the chaos soak: the fixed seed and one drawn now (make
// test), or IPCWATCH_SOAK_SEED for IPCWATCH_SOAK_DURATION (make soak).
func TestSoak(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	seeds, err := soakSeeds()
	if err != nil {
		t.Fatal(err)
	}
	d, err := soakDuration()
	if err != nil {
		t.Fatal(err)
	}
	in := prepareHost(t, "", idleProcesses)
	for _, seed := range seeds {
		s := runSoak(t, in, seed, d, scheduleChaos)
		if len(s.violations) > 0 {
			t.Errorf("seed %d broke the invariants:\n%s\n%s", seed, strings.Join(s.violations, "\n"), replayLine(seed, d))
		}
	}
}

// prepareHost installs the programs (built with tags, if any) and sets up
// the namespace: the installed host's files, the array table, and the
// idle processes that make every census long.
func prepareHost(t *testing.T, tags string, idle int) installed {
	in := install(t, tags)
	asInstalledHost(t, in)
	if err := ipctest.SetSemLimits(250, 32000, 32, semmni); err != nil {
		t.Fatal(err)
	}
	in.idle = startIdle(t, idle)
	return in
}
