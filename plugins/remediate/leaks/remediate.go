package leaks

import (
	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// Remediate is the whole protocol, inside one namespace (entered once):
// count, plan, and unless a dry run: kill the certain orphans (with
// KillOrphans), remove what the plan proves stale, and when orphans went,
// plan a second round and remove what it proves; count again.
func (r *Remediator) Remediate(req remediate.Request) (rep remediate.Report, err error) {
	err = r.in(req.Policy.PID, func(sys System) error {
		rep, err = r.remediate(sys, req)
		return err
	})
	return rep, err
}

func (r *Remediator) remediate(sys System, req remediate.Request) (remediate.Report, error) {
	nsRecords := sysvipc.NewNamespaceRecords(req.Records, sys.Namespace())
	switch req.Hook {
	case remediate.AfterStart:
		return r.afterStart(sys, req, nsRecords)
	case remediate.BeforeStart:
		return r.beforeStart(sys, req, nsRecords)
	}
	return r.clean(sys, req, nsRecords)
}

// clean is the event handler's run, and the before-start hook's: plan,
// kill orphans, remove, plan again.
func (r *Remediator) clean(sys System, req remediate.Request, nsRecords *sysvipc.NamespaceRecords) (remediate.Report, error) {
	rep := remediate.Report{Namespace: sys.Namespace(), ArraysBefore: countArrays(sys), DryRun: req.DryRun}
	plan, err := r.plan(sys, req.Policy, nil, nsRecords)
	if err != nil {
		return rep, err
	}
	rep.Rounds, rep.Evidence, rep.Orphans, rep.Kept = 1, plan.Arrays, plan.Orphans, plan.Kept
	if req.DryRun {
		rep.ArraysAfter = rep.ArraysBefore
		return rep, nil
	}
	res := r.apply(sys, plan)
	// An orphan that held a mutex or waited on one kept that array live in
	// the plan; only now that it is gone can the array be judged. One more
	// round, planned afresh, so nothing goes on the first plan's word.
	if killedAny(res) {
		p := req.Policy
		p.MaxRemovals = max(0, p.MaxRemovals-res.Count(remediate.Removed))
		if req.Policy.MaxRemovals == 0 || p.MaxRemovals > 0 {
			again, err := r.plan(sys, p, killedPIDs(res), nsRecords)
			if err != nil {
				return rep, err
			}
			more := r.apply(sys, again)
			for _, e := range again.Arrays {
				e.Round = 2
				rep.Evidence = append(rep.Evidence, e)
			}
			rep.Rounds = 2
			res.Actions = final(append(res.Actions, more.Actions...))
			res.Orphans = append(res.Orphans, more.Orphans...)
		}
	}
	rep.Actions, rep.OrphanActions = res.Actions, res.Orphans
	rep.ArraysAfter = countArrays(sys)
	return rep, nil
}

// countArrays is the O(1) count for the report's before and after; -1
// when the kernel cannot say (never a made-up zero).
func countArrays(sys System) int64 {
	u, err := sys.Usage()
	if err != nil {
		return -1
	}
	return u.SemArrays
}

// killedPIDs are the orphans this run killed itself.
func killedPIDs(res Result) map[int]bool {
	killed := map[int]bool{}
	for _, a := range res.Orphans {
		if a.Outcome == remediate.Killed {
			killed[a.PID] = true
		}
	}
	return killed
}

func killedAny(res Result) bool {
	for _, a := range res.Orphans {
		if a.Outcome == remediate.Killed || a.Outcome == remediate.Gone {
			return true
		}
	}
	return false
}

// final keeps each array's last action: an array skipped in the first
// round ("to be judged again") and removed in the second counts once.
func final(actions []remediate.Action) []remediate.Action {
	last := map[int32]int{}
	var out []remediate.Action
	for _, a := range actions {
		if i, ok := last[a.SemID]; ok {
			out[i] = a
			continue
		}
		last[a.SemID] = len(out)
		out = append(out, a)
	}
	return out
}
