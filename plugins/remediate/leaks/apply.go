package leaks

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// Apply carries out a plan. Orphans go first (with KillOrphans), then
// every array the plan calls stale is read again and removed only if it
// is still the same array (key, ctime, otime, owner), has no waiter and is
// not held. Anything else is skipped with the reason.
func (r *Remediator) Apply(plan remediate.Plan) (res remediate.Result, err error) {
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

func (r *Remediator) apply(sys System, plan remediate.Plan) remediate.Result {
	var res remediate.Result
	orphansGone := true
	if plan.Policy.KillOrphans {
		for _, o := range plan.Orphans {
			a := r.killOrphan(sys, o, plan.Policy.OrphanGrace)
			if a.Outcome != remediate.Killed && a.Outcome != remediate.Gone {
				orphansGone = false
			}
			res.Orphans = append(res.Orphans, a)
		}
	}
	removed := 0
	for _, e := range plan.Arrays {
		if e.Verdict != string(sysvipc.Stale) {
			continue
		}
		var a remediate.Action
		switch {
		case dependsOnOrphans(e) && (!plan.Policy.KillOrphans || !orphansGone):
			a = remediate.Action{SemID: e.SemID, Outcome: remediate.Skipped, Why: "orphaned workers still running"}
		case dependsOnOrphans(e):
			a = remediate.Action{SemID: e.SemID, Outcome: remediate.Skipped, Why: "to be judged again now that the orphans are gone"}
		case plan.Policy.MaxRemovals > 0 && removed >= plan.Policy.MaxRemovals:
			a = remediate.Action{SemID: e.SemID, Outcome: remediate.Skipped, Why: fmt.Sprintf("max removals (%d) reached", plan.Policy.MaxRemovals)}
		default:
			a = r.removeIfUnchanged(sys, e)
		}
		if a.Outcome == remediate.Removed {
			removed++
		}
		res.Actions = append(res.Actions, a)
	}
	return res
}

func (r *Remediator) removeIfUnchanged(sys System, e remediate.Evidence) remediate.Action {
	act := func(outcome, why string, err error) remediate.Action {
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
	case d.NCnt > 0 || d.ZCnt > 0:
		return act(remediate.Skipped, fmt.Sprintf("waiters now (ncnt %d zcnt %d)", d.NCnt, d.ZCnt), nil)
	case d.Value == 0:
		return act(remediate.Skipped, "held now (value 0)", nil)
	case d.PID != e.LastPID:
		return act(remediate.Skipped, fmt.Sprintf("last pid now %d, planned %d", d.PID, e.LastPID), nil)
	}
	// The plan's census may predate a process that took the dead pid's
	// number and touched the array within the same second.
	if d.PID > 0 {
		if p, alive, err := sys.Process(d.PID); err != nil || (alive && !p.Start.After(time.Unix(max(cur.OTime, cur.CTime), 0).Add(2*time.Second))) {
			return act(remediate.Skipped, fmt.Sprintf("last pid %d is alive now", d.PID), err)
		}
	}
	if err := sys.RemoveSem(e.SemID); err != nil {
		if errors.Is(err, sysvipc.ErrGone) {
			return act(remediate.Skipped, "gone", nil)
		}
		return act(remediate.Failed, err.Error(), err)
	}
	return act(remediate.Removed, "", nil)
}

// killOrphan sends SIGTERM, then SIGKILL after the grace period, checking
// before each signal that the pid is still the same process (same start
// time), so a reused pid is never signalled.
func (r *Remediator) killOrphan(sys System, o remediate.Orphan, grace time.Duration) remediate.OrphanAction {
	same := func() (bool, error) {
		p, ok, err := sys.Process(o.PID)
		return err == nil && ok && p.StartTicks == o.StartTicks, err
	}
	result := func(outcome, why string) remediate.OrphanAction {
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
