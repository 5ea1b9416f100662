package soak

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// figures are what one soak counts; every field under mu.
type figures struct {
	mu     sync.Mutex
	faults map[string]int
	served int
	failed int
	// failedSteady are the failed requests whose instance no fault
	// touched (same master, neither stopped nor restarting, no worker
	// SIGKILLed) while they were in flight, by reason.
	failedSteady  map[string]int
	leaked        int
	removed       int
	liveRemoved   int
	handlerTimes  []time.Duration
	handlerLocked int
	checks        int
	checkTimes    []time.Duration // each check's run, start to exit
	gathers       int
	gatherTimes   []time.Duration // each shim gather, newline to its sysvipc_sem line
	hooks         int
	oomKilled     int // processes the OOM killer killed (the kernel's log)
	keptReused    int // arrays a before-start kept for a process that took a dead last pid's number
	telegraf      int // sysvipc_sem lines of the real Telegraf judged
	aimed         int // masters that took a pid a plan's census had read
	recheckKept   int // arrays a plan called stale and the final re-check kept
}

func (f *figures) fault(kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.faults == nil {
		f.faults = map[string]int{}
	}
	f.faults[kind]++
}

// requestFailed counts a failed request, and its reason when its
// instance was steady throughout.
func (f *figures) requestFailed(steady bool, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed++
	if steady {
		if f.failedSteady == nil {
			f.failedSteady = map[string]int{}
		}
		f.failedSteady[reason]++
	}
}

// took adds one duration to a list of them.
func (f *figures) took(list *[]time.Duration, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*list = append(*list, d)
}

// spread is a list of durations' p50, p99 and max, "none" when empty.
func spread(list []time.Duration) string {
	if len(list) == 0 {
		return "none"
	}
	times := slices.Clone(list)
	slices.Sort(times)
	at := func(q float64) time.Duration { return times[int(q*float64(len(times)-1))].Round(time.Millisecond) }
	return fmt.Sprintf("p50 %s, p99 %s, max %s", at(0.5), at(0.99), times[len(times)-1].Round(time.Millisecond))
}

func (f *figures) add(field *int, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*field += n
}

// report is the closing summary of one seed's run.
func (f *figures) report(seed int64, d time.Duration) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "soak seed %d, ran %s\n", seed, d.Round(time.Second))
	total := 0
	for _, k := range slices.Sorted(maps.Keys(f.faults)) {
		total += f.faults[k]
	}
	fmt.Fprintf(&b, "faults injected: %d", total)
	for _, k := range slices.Sorted(maps.Keys(f.faults)) {
		fmt.Fprintf(&b, ", %s %d", k, f.faults[k])
	}
	steady := 0
	var reasons []string
	for _, k := range slices.Sorted(maps.Keys(f.failedSteady)) {
		steady += f.failedSteady[k]
		reasons = append(reasons, fmt.Sprintf("%q %d", k, f.failedSteady[k]))
	}
	fmt.Fprintf(&b, "\nrequests: %d served, %d failed (%d while their instance was killed, stopped or restarted, or a worker of it SIGKILLed", f.served, f.failed, f.failed-steady)
	if steady > 0 {
		fmt.Fprintf(&b, "; %d with the same master up throughout: %s", steady, strings.Join(reasons, ", "))
	}
	b.WriteString(")\n")
	fmt.Fprintf(&b, "arrays: %d leaked, %d removed, %d live arrays removed; %d kept by a process that reused a dead last pid\n", f.leaked, f.removed, f.liveRemoved, f.keptReused)
	if f.aimed > 0 || f.recheckKept > 0 {
		fmt.Fprintf(&b, "masters that took a pid their plan's census had read: %d; arrays the final re-check kept: %d\n", f.aimed, f.recheckKept)
	}
	if f.oomKilled > 0 {
		fmt.Fprintf(&b, "processes the OOM killer killed: %d, all in the OOM instance's cgroup\n", f.oomKilled)
	}
	times := slices.Clone(f.handlerTimes)
	slices.Sort(times)
	var p50, maxT time.Duration
	if len(times) > 0 {
		p50, maxT = times[len(times)/2], times[len(times)-1]
	}
	fmt.Fprintf(&b, "handler runs: %d (p50 %s, max %s; %d more found the lock held), before-start hooks %d, checks %d, shim gathers %d, real Telegraf gathers %d\n",
		len(times), p50.Round(time.Millisecond), maxT.Round(time.Millisecond), f.handlerLocked, f.hooks, f.checks, f.gathers, f.telegraf)
	fmt.Fprintf(&b, "check runs: %s; shim gathers: %s\n", spread(f.checkTimes), spread(f.gatherTimes))
	return b.String()
}
