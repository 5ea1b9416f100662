package soak

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// skipRecheckTag builds a handler whose plugin removes what its plan
// called stale without judging it again right before IPC_RMID
// (plugins/remediate/leaks/recheck_skip.go), on a census that lists the
// processes once (plugins/common/sysvipc/census_pass_skip.go): the two
// defences the soak showed a plan needs. With the census's second
// listing, a plan no longer calls a starting server's array stale, and
// the re-check has nothing left to catch in these windows.
const skipRecheckTag = "ipcwatch_skip_recheck"

// recheckBudget is how long the soak may take to catch a handler without
// its final re-check; recheckIdle is how many idle processes make each
// census long meanwhile, recheckDecoys how many processes with the
// lowest pids wait to free theirs for a master, and recheckSEMMNI a
// table the leaks never fill.
const (
	recheckBudget = 90 * time.Second
	recheckIdle   = 2000
	recheckSEMMNI = 4096
	recheckDecoys = 300
)

// TestSoakCatchesSkippedRecheck breaks the handler on purpose: built
// without its final re-check (and on a census that lists the processes
// once), it removes a live array when a plan's census missed a server
// that was starting (its start-up process's
// first arrays listed, the process gone, and its daemon master forked
// with a pid the census had already read). The soak's schedule of the
// windows where the re-check matters (the outage, then a TLS start at
// once whose master takes such a pid, the handler running back to back)
// must catch it, by a live array removed or a mutex failure, within its
// budget: every run, not most.
func TestSoakCatchesSkippedRecheck(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	var seed int64 = fixedSeed
	if v, err := soakSeeds(); err == nil && len(v) == 1 {
		seed = v[0]
	}
	in := prepareHost(t, skipRecheckTag, 0)
	// The decoys first: the lowest pids, which a census reads first.
	decoys := startIdle(t, recheckDecoys)
	in.idle = startIdle(t, recheckIdle)
	// A table that never fills: the windows need starts that succeed,
	// and leaked arrays go only when a plan meets the outage.
	if err := ipctest.SetSemLimits(250, 32000, 32, recheckSEMMNI); err != nil {
		t.Fatal(err)
	}
	s := runSoak(t, in, seed, recheckBudget, scheduleRecheckWindows, decoys...)
	if s.firstLive == 0 {
		t.Fatalf("the soak (seed %d) did not catch a handler without its final re-check within %s; violations: %q", seed, recheckBudget, s.violations)
	}
	t.Logf("a handler without its final re-check was caught after %.1f s (seed %d, budget %s): %s", s.firstLive.Seconds(), seed, recheckBudget, s.liveMsgs[0])
}

// dialogUnanswered is how long a pass-phrase dialog of the re-check
// windows waits when nobody answers it earlier.
const dialogUnanswered = 10 * time.Second

// dialogAnswerBy is how long the schedule waits for a handler's plan
// census before it answers the dialog anyway.
const dialogAnswerBy = 3 * time.Second

// answerInPlanCensus answers each start's pass-phrase dialog (ends the
// dialog's wait, as a person typing the pass-phrase) once a handler's
// plugin is reading /proc for its plan, and makes the master that the
// start-up process forks then take the pid of a decoy process the census
// has already read, and sit descheduled (SIGSTOP, as on a loaded host)
// until that handler is done. The start-up process exits while the
// census runs; the master's pid was listed and read before it existed,
// so the census's second listing passes it over, and the plan sees no
// Apache at all. Only the final re-check's census, taken after the plan,
// reads the master. One answer in eight is not aimed.
func (s *soak) answerInPlanCensus(r *rand.Rand) func(*ipctest.StartingApache) {
	var mu sync.Mutex
	draw := func() bool { mu.Lock(); defer mu.Unlock(); return r.IntN(8) != 0 }
	return func(st *ipctest.StartingApache) {
		dialog, err := st.WaitPassPhraseDialog(5 * time.Second)
		if err != nil {
			return
		}
		plugin := 0
		if draw() {
			plugin = s.waitPlanCensus(dialogAnswerBy)
		}
		decoy := 0
		if plugin > 0 {
			decoy = s.nextDecoy()
		}
		for _, pid := range children(dialog) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // the dialog's sleep: it answers at once
		}
		if decoy == 0 {
			return
		}
		master := masterAt(decoy, st.PID)
		if master == 0 {
			return
		}
		s.fig.add(&s.fig.aimed, 1)
		for deadline := time.Now().Add(dialogAnswerBy); time.Now().Before(deadline) && startTicks(plugin) != 0; {
			time.Sleep(time.Millisecond)
		}
		_ = syscall.Kill(master, syscall.SIGCONT)
	}
}

// nextDecoy ends the lowest decoy left (the first processes a census
// reads) and returns its pid once it is free, 0 when none is left.
func (s *soak) nextDecoy() int {
	s.mu.Lock()
	if len(s.decoys) == 0 {
		s.mu.Unlock()
		return 0
	}
	d := s.decoys[0]
	s.decoys = s.decoys[1:]
	s.mu.Unlock()
	_ = syscall.Kill(d, syscall.SIGKILL)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Microsecond) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(d)); err != nil {
			return d
		}
	}
	return 0
}

// masterAt steers the next pid the namespace hands out to pid (its
// ns_last_pid kept just below it) until the start-up process forks,
// and stops the master at once if it got that pid; it returns the
// stopped master, or 0.
func masterAt(pid, startup int) int {
	below := []byte(strconv.Itoa(pid - 1))
	for deadline := time.Now().Add(dialogAnswerBy); time.Now().Before(deadline); {
		switch c := comm(pid); {
		case c == "apache2":
			if syscall.Kill(pid, syscall.SIGSTOP) == nil {
				return pid
			}
			return 0
		case c != "":
			return 0 // another process took it
		}
		if startTicks(startup) == 0 {
			return 0 // forked elsewhere, and gone
		}
		if b, err := os.ReadFile("/proc/sys/kernel/ns_last_pid"); err == nil && strings.TrimSpace(string(b)) != string(below) {
			_ = os.WriteFile("/proc/sys/kernel/ns_last_pid", below, 0)
		}
		time.Sleep(50 * time.Microsecond)
	}
	return 0
}

// pluginComm is the plugin's command name as /proc/<pid>/comm has it.
const pluginComm = "ipcwatch-plugin"

// waitPlanCensus waits until a handler's plugin has begun reading /proc
// (its read system calls climb), at most limit, and returns its pid (0
// when none began).
func (s *soak) waitPlanCensus(limit time.Duration) int {
	deadline := time.Now().Add(limit)
	base := map[int]int64{}
	found := 0
	for found == 0 && time.Now().Before(deadline) {
		s.handlers.Range(func(k, _ any) bool {
			for _, pid := range descendants(k.(int), 4) {
				if comm(pid) != pluginComm {
					continue
				}
				if n := syscr(pid); n >= 0 {
					if _, ok := base[pid]; !ok {
						base[pid] = n
					}
					if n-base[pid] >= censusReads {
						found = pid
						return false
					}
				}
			}
			return true
		})
		time.Sleep(200 * time.Microsecond)
	}
	return found
}

// censusReads is how many more read calls than when first seen tell a
// plugin is in its census, past the first processes (the decoys): a few
// hundred of the thousands of /proc files it reads.
const censusReads = 600

// descendants lists a process's descendants, depth levels down.
func descendants(pid, depth int) []int {
	if depth == 0 {
		return nil
	}
	var out []int
	for _, c := range children(pid) {
		out = append(out, c)
		out = append(out, descendants(c, depth-1)...)
	}
	return out
}

// syscr is a process's count of read system calls, -1 when unreadable.
func syscr(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// controlDuration is how long the shipped build meets the re-check
// windows.
const controlDuration = 20 * time.Second

// TestSoakRecheckWindowsShippedBuild runs the same windows against the
// shipped build: its census's second listing reads the master that took
// a read pid (and its final re-check would), so no live array goes and
// no invariant breaks. What the broken build does in them is its missing
// defences, not the schedule's doing.
func TestSoakRecheckWindowsShippedBuild(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	in := prepareHost(t, "", 0)
	if err := ipctest.SetSemLimits(250, 32000, 32, recheckSEMMNI); err != nil {
		t.Fatal(err)
	}
	decoys := startIdle(t, recheckDecoys)
	in.idle = startIdle(t, recheckIdle)
	s := runSoak(t, in, fixedSeed, controlDuration, scheduleRecheckWindows, decoys...)
	if len(s.violations) > 0 {
		t.Errorf("the shipped build broke the invariants in the re-check windows:\n%s", strings.Join(s.violations, "\n"))
	}
	if s.fig.aimed == 0 {
		t.Errorf("in %s no master took a pid its plan's census had read: the windows were not met", controlDuration)
	}
	t.Logf("the shipped build met %d aimed windows in %s, its final re-check kept %d arrays its plan called stale, and no live array went", s.fig.aimed, controlDuration, s.fig.recheckKept)
}
