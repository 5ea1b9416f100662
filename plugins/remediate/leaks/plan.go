package leaks

import (
	"maps"
	"slices"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// Version is the plugin's version, reported by Describe.
var Version = "0.1.0"

// ReasonAfterOrphans marks an array that would be stale once the orphaned
// workers that may use it are gone. Apply never removes it on this plan's
// word: after killing them the host plans again and judges it afresh.
const ReasonAfterOrphans = "after_killing_orphans"

// Remediator removes leaked Apache semaphore arrays.
type Remediator struct {
	Sys  System
	Now  func() time.Time
	Poll time.Duration // how often a signalled orphan is re-checked
}

// Describe names the plugin.
func (r *Remediator) Describe() (remediate.Description, error) {
	return remediate.Description{
		Name: "apache-sysvsem", Version: Version,
		Capabilities: []string{"plan", "apply", "kill-orphans"},
	}, nil
}

// Plan classifies every array and returns the candidates with their
// evidence. With KillOrphans, arrays that only orphaned workers keep from
// being stale are judged as if those workers were gone, and marked so.
func (r *Remediator) Plan(p remediate.Policy) (plan remediate.Plan, err error) {
	err = r.in(p.PID, func(sys System) error {
		plan, err = r.plan(sys, p)
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

func (r *Remediator) plan(sys System, p remediate.Policy) (remediate.Plan, error) {
	uids, err := sysvipc.LookupUsers(p.ApacheUsers, false)
	if err != nil {
		return remediate.Plan{}, err
	}
	now := r.Now()
	pol := sysvipc.Policy{ApacheUIDs: sysvipc.UIDSet(uids), MinAge: p.MinAge, Now: now}
	arrays, err := sys.SemArrays()
	if err != nil {
		return remediate.Plan{}, err
	}
	census, err := sys.Census()
	if err != nil {
		return remediate.Plan{}, err
	}
	census.AssignRoles(pol.ApacheUIDs)
	orphans := census.WithRole(sysvipc.RoleOrphan)
	judged := sys.Classify(arrays, census, pol)
	var afterOrphans []sysvipc.Classification
	if p.KillOrphans && slices.ContainsFunc(orphans, func(o *sysvipc.Process) bool { return o.CertainOrphan }) {
		without := sysvipc.Census{Procs: maps.Clone(census.Procs), Taken: census.Taken}
		for _, o := range orphans {
			delete(without.Procs, o.PID)
		}
		afterOrphans = sys.Classify(arrays, without, pol)
	}

	plan := remediate.Plan{Policy: p, Taken: now, Namespace: sys.Namespace()}
	for i, c := range judged {
		if ok, _ := pol.Candidate(c.Array); !ok {
			continue
		}
		e := evidence(c)
		if afterOrphans != nil && c.Verdict != sysvipc.Stale && afterOrphans[i].Verdict == sysvipc.Stale {
			e = evidence(afterOrphans[i])
			e.Reasons = append(e.Reasons, ReasonAfterOrphans)
		}
		plan.Arrays = append(plan.Arrays, e)
	}
	for _, o := range orphans {
		if o.CertainOrphan {
			plan.Orphans = append(plan.Orphans, remediate.Orphan{PID: o.PID, Start: o.Start, StartTicks: o.StartTicks, UID: o.EUID, Name: o.Comm})
		}
	}
	return plan, nil
}

func evidence(c sysvipc.Classification) remediate.Evidence {
	e := remediate.Evidence{
		SemID: c.Array.SemID, Key: c.Array.Key, UID: c.Array.UID, Owner: sysvipc.UserName(c.Array.UID),
		NSems: c.Array.NSems, OTime: c.Array.OTime, CTime: c.Array.CTime,
		PIDState: string(c.PIDState), Verdict: string(c.Verdict), Value: -1,
	}
	if d := c.Detail; d != nil {
		e.Value, e.NCnt, e.ZCnt, e.LastPID = d.Value, d.NCnt, d.ZCnt, d.PID
	}
	for _, r := range c.Reasons {
		e.Reasons = append(e.Reasons, string(r))
	}
	return e
}

func dependsOnOrphans(e remediate.Evidence) bool {
	return slices.Contains(e.Reasons, ReasonAfterOrphans)
}
