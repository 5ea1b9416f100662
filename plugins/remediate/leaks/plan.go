package leaks

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// Version is the plugin's version, reported by Describe; make build
// stamps it from git.
var Version = "0.1.0"

// Remediator removes leaked Apache semaphore arrays.
type Remediator struct {
	Sys  System
	Now  func() time.Time
	Poll time.Duration // how often a signalled orphan is re-checked
	// Confirm is how long an orphan must stay one before it is signalled
	// (0: DefaultConfirm).
	Confirm time.Duration
}

// DefaultConfirm outlasts prefork's one-second maintenance cycle: a
// master that was briefly childless (a worker recycled by
// MaxConnectionsPerChild) has forked a new one by then, and is no orphan.
const DefaultConfirm = 2 * time.Second

// Describe names the plugin.
func (r *Remediator) Describe() (remediate.Description, error) {
	return remediate.Description{
		Name: "apache-sysvsem", Version: Version,
		Capabilities: []string{"plan", "apply", "kill-orphans"},
	}, nil
}

// Plan is one judgement of every candidate array: what Apply carries out.
type Plan struct {
	Policy  remediate.Policy
	Arrays  []remediate.Evidence
	Orphans []remediate.Orphan
	Taken   time.Time
	// Namespace is the inode of the IPC namespace planned in; Apply acts
	// only in the same one.
	Namespace uint64
	// censusAt is when the plan's census was taken, by the wall clock the
	// orphans' confirmation window is measured on.
	censusAt time.Time
	// killed are the orphans this run killed before planning (round 2).
	killed map[int]bool
	// nsRecords is the units' witness records, judged by against each census.
	nsRecords *sysvipc.NamespaceRecords
	// Kept are the processes that kept arrays from being stale.
	Kept []sysvipc.Kept
	// ownGroups are the process groups of recorded masters that are gone,
	// with the masters' shared mappings: an orphan in one that shares one
	// is a unit's own leftover, offered for killing even while another
	// Apache's master runs.
	ownGroups map[int][]uint64
}

// Stale counts the arrays the plan would remove.
func (p Plan) Stale() int {
	n := 0
	for _, e := range p.Arrays {
		if e.Verdict == sysvipc.Stale {
			n++
		}
	}
	return n
}

// Result is what one Apply did.
type Result struct {
	Actions []remediate.Action
	Orphans []remediate.OrphanAction
}

// Count counts actions with the outcome.
func (r Result) Count(o remediate.Outcome) int {
	n := 0
	for _, a := range r.Actions {
		if a.Outcome == o {
			n++
		}
	}
	return n
}

// Plan classifies every array and returns the candidates with their
// evidence. With KillOrphans, arrays that only orphaned workers keep from
// being stale are judged as if those workers were gone, and marked so.
func (r *Remediator) Plan(p remediate.Policy) (plan Plan, err error) {
	err = r.in(p.PID, func(sys System) error {
		plan, err = r.plan(sys, p, nil, nil)
		return err
	})
	return plan, err
}

// in runs fn with the system of pid's IPC namespace, or the plugin's own.
func (r *Remediator) in(pid int, fn func(System) error) error {
	if pid == 0 {
		return fn(r.Sys)
	}
	return r.Sys.Enter(pid, fn)
}

// corePolicy is the classifier's policy for a remediation policy, built
// by the core's one constructor: the same for the plan and for the
// re-check before each removal.
func corePolicy(p remediate.Policy, now time.Time) (sysvipc.Policy, error) {
	pol, err := sysvipc.NewPolicy(p.ApacheUsers, p.MinAge)
	if err != nil {
		return pol, err
	}
	// The host took them from root's file; checked again here, where
	// they decide what root removes.
	for _, n := range p.Neighbours {
		if err := sysvipc.NeighbourPath(n); err != nil {
			return pol, fmt.Errorf("neighbour %q: %w", n, err)
		}
	}
	pol.Neighbours = (&sysvipc.PolicyFile{Neighbours: p.Neighbours}).NeighbourSet()
	return pol.At(now), nil
}

// plan judges every array; killed are the orphans this run killed before
// (their undo at exit is no sign of life); the nsRecords's records turn a
// dead start's arrays into witnessed leaks.
func (r *Remediator) plan(sys System, p remediate.Policy, killed map[int]bool, nsRecords *sysvipc.NamespaceRecords) (Plan, error) {
	now := r.Now()
	pol, err := corePolicy(p, now)
	if err != nil {
		return Plan{}, err
	}
	pol.Killed, pol.Records = killed, nsRecords
	arrays, census, err := arraysAndCensus(sys, pol)
	if err != nil {
		return Plan{}, err
	}
	judged := sysvipc.Classify(arrays, census, sys, pol, sys.Threads())
	ownGroups := nsRecords.Sorted(census).DeadMasters()
	orphans := killableOrphans(census, ownGroups)
	var afterOrphans []sysvipc.Classification
	if p.KillOrphans && len(orphans) > 0 {
		without := sysvipc.Census{Procs: maps.Clone(census.Procs), Taken: census.Taken, Hidden: census.Hidden}
		for _, o := range orphans {
			delete(without.Procs, o.PID)
		}
		afterOrphans = sysvipc.Classify(arrays, without, sys, pol, sys.Threads())
	}

	plan := Plan{Policy: p, Taken: now, Namespace: sys.Namespace(), censusAt: time.Now(), killed: killed, nsRecords: nsRecords, ownGroups: ownGroups}
	kept := sysvipc.Tally{Blockers: map[sysvipc.Blocked]int{}}
	for i, c := range judged {
		if ok, _ := pol.Candidate(c.Array); !ok {
			continue
		}
		e := evidence(c)
		if afterOrphans != nil && c.Verdict != sysvipc.Stale {
			if a := afterOrphans[i]; a.Verdict == sysvipc.Stale {
				e = evidence(a)
				e.Reasons = append(slices.Clone(e.Reasons), remediate.ReasonAfterOrphans)
			}
		}
		if by := sysvipc.BlockedBy(c); by != nil && e.Verdict != sysvipc.Stale {
			kept.Blockers[sysvipc.Blocked{Reason: c.Reasons[0], PID: by.PID}]++
		}
		plan.Arrays = append(plan.Arrays, e)
	}
	plan.Kept = sys.KeptBy(kept, census)
	for _, o := range orphans {
		plan.Orphans = append(plan.Orphans, remediate.Orphan{PID: o.PID, Start: o.Start, StartTicks: o.StartTicks, UID: o.EUID, Name: sysvipc.Printable(o.Comm)})
	}
	return plan, nil
}

// killableOrphans are the orphans offered for killing. Only when no
// master runs: while one does, every array older than it stays unknown
// whatever the orphans do, so killing them would gain nothing and risk a
// live server. The exception is a recorded start's own group (ownGroups:
// its dead master's shared mappings, by process group): its master is
// gone, and its arrays are witnessed leaks once its orphans are.
//
// An orphan must be proven a fork of a dead daemon master: it shares an
// anonymous shared mapping (Apache's scoreboard, which the master makes
// before it forks) with the master a record names, or, without a record,
// with another killable orphan of its group. Two servers started apart
// never share one, whatever their command lines say: a one-process server
// with ONE_PROCESS in its config file and -k start, whose launcher
// exited, looks like a worker otherwise.
func killableOrphans(census sysvipc.Census, ownGroups map[int][]uint64) []*sysvipc.Process {
	var orphans, killable []*sysvipc.Process
	noMaster := len(census.WithRole(sysvipc.RoleMaster)) == 0
	for _, o := range census.WithRole(sysvipc.RoleOrphan) {
		if o.Killable() {
			killable = append(killable, o)
		}
	}
	for _, o := range killable {
		if shared, ok := ownGroups[o.PGRP]; ok && o.SharesWith(shared) {
			orphans = append(orphans, o)
			continue
		}
		if noMaster && slices.ContainsFunc(killable, func(q *sysvipc.Process) bool {
			return q != o && q.PGRP == o.PGRP && q.SharesWith(o.Shared)
		}) {
			orphans = append(orphans, o)
		}
	}
	return orphans
}

// arraysAndCensus lists the arrays, then takes the census the rules judge
// them by: in that order, so a process that touched a listed array is in
// the census unless it has exited.
func arraysAndCensus(sys System, pol sysvipc.Policy) ([]sysvipc.SemArray, sysvipc.Census, error) {
	arrays, err := sys.SemArrays()
	if err != nil {
		return nil, sysvipc.Census{}, err
	}
	census, err := sys.Census(pol.ApacheUIDs)
	return arrays, census, err
}

func evidence(c sysvipc.Classification) remediate.Evidence {
	e := remediate.Evidence{
		SemID: c.Array.SemID, Key: c.Array.Key, UID: c.Array.UID, Owner: sysvipc.UserName(c.Array.UID),
		NSems: c.Array.NSems, OTime: c.Array.OTime, CTime: c.Array.CTime,
		PIDState: c.PIDState, Verdict: c.Verdict, Reasons: c.Reasons, Value: -1, Round: 1, Matures: c.Matures,
	}
	if c.Blocker != nil {
		e.BlockerPID = c.Blocker.PID
	}
	if d := c.Detail; d != nil {
		e.Value, e.NCnt, e.ZCnt, e.LastPID = d.Value, d.NCnt, d.ZCnt, d.PID
	}
	return e
}

func dependsOnOrphans(e remediate.Evidence) bool {
	return slices.Contains(e.Reasons, remediate.ReasonAfterOrphans)
}
