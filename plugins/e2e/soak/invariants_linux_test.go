package soak

import (
	"context"
	"strings"
	"time"
)

// monitor checks the invariants while the soak runs: every running
// instance keeps its arrays while its master lives, its master dies only
// by the soak's hand, no error log shows a mutex failure, and every
// removal and kill in the audit log is of a leak and of an orphan.
func (s *soak) monitor(ctx context.Context) {
	seenErrs := map[*instance]int{}
	var auditOff int64
	tick := 0
	for sleep(ctx, 20*time.Millisecond) {
		now := s.checkLive()
		s.history.add(now, s.liveArrays())
		if tick++; tick%10 == 0 {
			auditOff = s.checkAudit(auditOff)
			s.checkMutexErrors(seenErrs)
			s.checkNeighbours()
		}
		if tick%50 == 0 {
			reapStrangers()
		}
	}
	s.checkAudit(auditOff)
	s.checkMutexErrors(seenErrs)
}

// checkLive fails when a running instance's array is gone while its
// master lives, and when a master died that the soak did not kill; it
// returns the arrays it saw.
func (s *soak) checkLive() map[int32]bool {
	now := semIDs()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.instances {
		if !in.running || in.busy {
			continue
		}
		for id := range in.arrays {
			if !now[id] && same(in.master, in.masterTicks) {
				s.violate(true, "semid %d of %s was removed while its master %d ran", id, in.name, in.master)
				s.fig.add(&s.fig.liveRemoved, 1)
				delete(in.arrays, id)
			}
		}
		if !same(in.master, in.masterTicks) {
			s.violate(false, "the master %d of %s died, and the soak did not kill it", in.master, in.name)
			s.markDownLocked(in)
		}
	}
	return now
}

// checkAudit reads the new audit lines: it counts removals, and fails on
// a removed array of a running instance and on a killed process that was
// not an orphan the soak made.
func (s *soak) checkAudit(off int64) int64 {
	entries, next, err := readAudit(off)
	if err != nil {
		s.violate(false, "audit log: %v", err)
	}
	live := s.liveArrays()
	for _, e := range entries {
		if e.Summary != nil {
			s.fig.add(&s.fig.removed, e.Summary.Removed.Count)
		}
		for _, a := range e.Actions {
			if a.Outcome == "skipped" && strings.Contains(a.Why, " now") {
				// The plan called it stale; the final re-check did not.
				s.fig.add(&s.fig.recheckKept, 1)
			}
			if a.Outcome != "removed" {
				continue
			}
			if live[a.SemID] {
				s.violate(true, "the audit log says semid %d was removed, an array of a running server (caller %s)", a.SemID, e.Caller)
			}
			s.mu.Lock()
			s.removedByUs[a.SemID] = e.Caller
			st, made := s.startVanished[a.SemID]
			s.mu.Unlock()
			if made && same(st.master, st.ticks) {
				s.violate(true, "semid %d, made while %s started (master %d now runs), was removed by a handler (caller %s)", a.SemID, st.name, st.master, e.Caller)
				s.fig.add(&s.fig.liveRemoved, 1)
			}
		}
		for _, o := range e.OrphanActs {
			if o.Outcome != "killed" {
				continue
			}
			// The plan names each orphan with its start ticks, the
			// identity the plugin checks before its signal.
			var ticks uint64
			for _, p := range e.Orphans {
				if p.PID == o.PID {
					ticks = p.StartTicks
				}
			}
			s.mu.Lock()
			ours := s.everOrphan[orphanID{o.PID, ticks}]
			s.mu.Unlock()
			if !ours {
				s.violate(false, "a handler killed pid %d (start ticks %d), which was no orphan of a dead master (caller %s)", o.PID, ticks, e.Caller)
			}
		}
	}
	return next
}

// checkMutexErrors fails on any new mutex or lock failure in an error
// log; a start refused for a full table (AH00023) is judged by the start.
func (s *soak) checkMutexErrors(seen map[*instance]int) {
	for _, in := range s.instances {
		var errs []string
		for _, line := range in.ap.MutexErrors() {
			if !strings.Contains(line, "AH00023") && !strings.Contains(line, "No space left on device") {
				errs = append(errs, line)
			}
		}
		for _, line := range errs[min(seen[in], len(errs)):] {
			s.violate(true, "%s logged a mutex failure: %s", in.name, line)
		}
		seen[in] = len(errs)
	}
}
