package leaks

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// Apply carries out a plan. Orphans go first (with KillOrphans), then
// every array the plan calls stale is read again and removed only if it
// is still the same array (key, ctime, otime, owner), has no waiter and is
// not held. Anything else is skipped with the reason.
func (r *Remediator) Apply(plan Plan) (res Result, err error) {
	err = r.in(plan.Policy.PID, func(sys System) error {
		if ns := sys.Namespace(); plan.Namespace != 0 && ns != plan.Namespace {
			return fmt.Errorf("%w: planned in ipc:[%d], now in ipc:[%d] (the pid was reused?)", errNamespaceChanged, plan.Namespace, ns)
		}
		res = r.apply(sys, plan)
		return nil
	})
	return res, err
}

// errNamespaceChanged refuses a plan made in another IPC namespace.
var errNamespaceChanged = errors.New("refusing to apply in another namespace")

func (r *Remediator) apply(sys System, plan Plan) Result {
	var res Result
	orphansGone := true
	if plan.Policy.KillOrphans && len(plan.Orphans) > 0 {
		res.Orphans = r.killOrphans(sys, plan)
		for _, a := range res.Orphans {
			if a.Outcome != remediate.Killed && a.Outcome != remediate.Gone {
				orphansGone = false
			}
		}
	}
	// The re-checks judge each array again with the core's rules, against
	// a census taken now: an Apache started since the plan, or a process
	// that took a dead last pid's number, keeps its arrays.
	check, err := r.recheckerNow(sys, plan.Policy, plan.killed, plan.nsRecords)
	removed := 0
	for _, e := range plan.Arrays {
		if e.Verdict != sysvipc.Stale {
			continue
		}
		var a remediate.Action
		switch {
		case err != nil:
			a = remediate.Action{SemID: e.SemID, Outcome: remediate.Failed, Why: err.Error()}
		case dependsOnOrphans(e) && (!plan.Policy.KillOrphans || !orphansGone):
			a = remediate.Action{SemID: e.SemID, Outcome: remediate.Skipped, Why: "orphaned workers still running"}
		case dependsOnOrphans(e):
			a = remediate.Action{SemID: e.SemID, Outcome: remediate.Skipped, Why: "to be judged again now that the orphans are gone"}
		case plan.Policy.MaxRemovals > 0 && removed >= plan.Policy.MaxRemovals:
			a = remediate.Action{SemID: e.SemID, Outcome: remediate.Skipped, Why: fmt.Sprintf("max removals (%d) reached", plan.Policy.MaxRemovals)}
		default:
			a = r.removeIfUnchanged(sys, e, check)
		}
		if a.Outcome == remediate.Removed {
			removed++
		}
		res.Actions = append(res.Actions, a)
	}
	return res
}

// rechecker is the classifier's rules bound to a census taken right
// before the removals.
type rechecker struct {
	judge     sysvipc.Judge
	nsRecords *sysvipc.NamespaceRecords
}

func (r *Remediator) recheckerNow(sys System, p remediate.Policy, killed map[int]bool, nsRecords *sysvipc.NamespaceRecords) (rechecker, error) {
	pol, err := corePolicy(p, r.Now())
	if err != nil {
		return rechecker{}, err
	}
	pol.Killed, pol.Records = killed, nsRecords
	census, err := sys.Census(pol.ApacheUIDs)
	if err != nil {
		return rechecker{}, fmt.Errorf("census before removal: %w", err)
	}
	// The records too are sorted out again (NewJudge): a recorded master
	// is alive or dead by this census.
	return rechecker{judge: sysvipc.NewJudge(census, pol), nsRecords: nsRecords}, nil
}

func (r *Remediator) removeIfUnchanged(sys System, e remediate.Evidence, check rechecker) remediate.Action {
	act := func(outcome remediate.Outcome, why string, err error) remediate.Action {
		a := remediate.Action{SemID: e.SemID, Outcome: outcome, Why: why}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			a.Errno = int(errno)
		}
		return a
	}
	cur, err := sys.StatSem(e.SemID)
	switch {
	case errors.Is(err, sysvipc.ErrGone):
		return act(remediate.Skipped, "gone", nil)
	case err != nil:
		return act(remediate.Failed, err.Error(), err)
	case cur.Key != e.Key || cur.UID != e.UID || cur.CTime != e.CTime || cur.OTime != e.OTime:
		return act(remediate.Skipped, fmt.Sprintf("changed since the plan (key %d uid %d ctime %d otime %d)", cur.Key, cur.UID, cur.CTime, cur.OTime), nil)
	}
	d, err := sys.ProbeSem(cur)
	switch {
	case errors.Is(err, sysvipc.ErrGone):
		return act(remediate.Skipped, "gone", nil)
	case err != nil:
		return act(remediate.Failed, err.Error(), err)
	case d.PID != e.LastPID:
		return act(remediate.Skipped, fmt.Sprintf("last pid now %d, planned %d", d.PID, e.LastPID), nil)
	}
	if !recheckBeforeRemoval {
		return remove(sys, e.SemID, act)
	}
	if c := check.judge.Recheck(cur, d); c.Verdict != sysvipc.Stale {
		return act(remediate.Skipped, notStaleNow(c), nil)
	}
	// The census may predate a process that took the dead pid's number
	// since: read that one pid once more.
	if d.PID > 0 {
		if _, alive, err := sys.Process(d.PID); err != nil || alive {
			return act(remediate.Skipped, fmt.Sprintf("last pid %d is alive now", d.PID), err)
		}
	}
	return remove(sys, e.SemID, act)
}

// remove is the IPC_RMID itself.
func remove(sys System, id int32, act func(remediate.Outcome, string, error) remediate.Action) remediate.Action {
	if err := sys.RemoveSem(id); err != nil {
		if errors.Is(err, sysvipc.ErrGone) {
			return act(remediate.Skipped, "gone", nil)
		}
		return act(remediate.Failed, err.Error(), err)
	}
	return act(remediate.Removed, "", nil)
}

// notStaleNow says why the re-check kept an array.
func notStaleNow(c sysvipc.Classification) string {
	d := c.Detail
	switch {
	case slices.Contains(c.Reasons, sysvipc.ReasonWaiters):
		return fmt.Sprintf("waiters now (ncnt %d zcnt %d)", d.NCnt, d.ZCnt)
	case slices.Contains(c.Reasons, sysvipc.ReasonHeld):
		return "held now (value 0)"
	case slices.Contains(c.Reasons, sysvipc.ReasonLastPIDAlive):
		return fmt.Sprintf("last pid %d is alive now", d.PID)
	}
	reasons := make([]string, len(c.Reasons))
	for i, r := range c.Reasons {
		reasons[i] = string(r)
	}
	return fmt.Sprintf("%s now (%s)", c.Verdict, strings.Join(reasons, ", "))
}

// killOrphans ends the plan's orphans, each only if a census taken now,
// at least Confirm after the plan's, still shows it as a killable orphan
// (positively Apache, a certain orphan, no Apache children), the same
// process (start ticks), and no master running: a master that started
// since the plan, or a master that was only briefly childless, is never
// signalled.
func (r *Remediator) killOrphans(sys System, plan Plan) []remediate.OrphanAction {
	if wait := r.confirm() - time.Since(plan.censusAt); wait > 0 {
		time.Sleep(wait)
	}
	var out []remediate.OrphanAction
	pol, err := corePolicy(plan.Policy, r.Now())
	var census sysvipc.Census
	if err == nil {
		census, err = sys.Census(pol.ApacheUIDs)
	}
	masters := census.WithRole(sysvipc.RoleMaster)
	for _, o := range plan.Orphans {
		p := census.Procs[o.PID]
		switch {
		case err != nil:
			out = append(out, remediate.OrphanAction{PID: o.PID, Outcome: remediate.Failed, Why: err.Error()})
		case p == nil || p.StartTicks != o.StartTicks:
			out = append(out, remediate.OrphanAction{PID: o.PID, Outcome: remediate.Gone, Why: "exited before any signal"})
		case len(masters) > 0 && !p.SharesWith(plan.ownGroups[p.PGRP]):
			out = append(out, remediate.OrphanAction{PID: o.PID, Outcome: remediate.Skipped, Why: fmt.Sprintf("an Apache master runs now (pid %d)", masters[0].PID)})
		case !p.Killable():
			out = append(out, remediate.OrphanAction{PID: o.PID, Outcome: remediate.Skipped, Why: fmt.Sprintf("no longer a certain orphan (%s)", roleName(p.Role))})
		default:
			out = append(out, r.killOrphan(sys, o, plan.Policy.OrphanGrace))
		}
	}
	return out
}

func (r *Remediator) confirm() time.Duration {
	if r.Confirm > 0 {
		return r.Confirm
	}
	return DefaultConfirm
}

func roleName(r sysvipc.Role) string {
	if r == sysvipc.RoleNone {
		return "not apache"
	}
	return string(r)
}

// killOrphan sends SIGTERM, then SIGKILL after the grace period, checking
// before each signal that the pid is still the same process (same start
// time), so a reused pid is never signalled.
func (r *Remediator) killOrphan(sys System, o remediate.Orphan, grace time.Duration) remediate.OrphanAction {
	same := func() (bool, error) {
		p, ok, err := sys.Process(o.PID)
		return err == nil && ok && p.StartTicks == o.StartTicks, err
	}
	result := func(outcome remediate.Outcome, why string) remediate.OrphanAction {
		return remediate.OrphanAction{PID: o.PID, Outcome: outcome, Why: why}
	}
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, grace}, {syscall.SIGKILL, 5 * time.Second}} {
		alive, err := same()
		if err != nil {
			return result(remediate.Failed, err.Error())
		}
		if !alive {
			if step.sig == syscall.SIGTERM {
				return result(remediate.Gone, "exited before any signal")
			}
			return result(remediate.Killed, "SIGTERM, exited before SIGKILL")
		}
		if err := sys.Signal(o.PID, step.sig); err != nil {
			return result(remediate.Failed, fmt.Sprintf("%s: %v", step.sig, err))
		}
		// Wall-clock waiting, not r.Now: that is the plan's clock, which
		// tests freeze.
		for deadline := time.Now().Add(step.wait); time.Now().Before(deadline); time.Sleep(r.poll()) {
			if alive, _ := same(); !alive {
				return result(remediate.Killed, step.sig.String())
			}
		}
	}
	return result(remediate.Failed, "survived SIGKILL")
}

func (r *Remediator) poll() time.Duration {
	if r.Poll > 0 {
		return r.Poll
	}
	return 50 * time.Millisecond
}
