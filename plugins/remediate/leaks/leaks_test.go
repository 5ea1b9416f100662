package leaks

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// fakeSystem is an IPC namespace and process table in memory.
type fakeSystem struct {
	arrays  map[int32]sysvipc.SemArray
	details map[int32]sysvipc.SemDetail
	procs   map[int]*sysvipc.Process
	removed []int32
	signals []string
	// onStat runs before StatSem answers: a test changes the world between
	// plan and removal there.
	onStat func(id int32)
	// dieOn lists signals a process exits on; onDeath runs when one does.
	dieOn   map[int]syscall.Signal
	onDeath func(pid int)
	// entered lists the pids whose namespaces Plan and Apply entered.
	entered []int
	ns      uint64
}

func (f *fakeSystem) SemArrays() ([]sysvipc.SemArray, error) {
	var out []sysvipc.SemArray
	for _, a := range f.arrays {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b sysvipc.SemArray) int { return int(a.SemID - b.SemID) })
	return out, nil
}

func (f *fakeSystem) Census(apacheUIDs map[uint32]bool) (sysvipc.Census, error) {
	c := sysvipc.Census{Procs: map[int]*sysvipc.Process{}}
	for pid, p := range f.procs {
		cp := *p
		c.Procs[pid] = &cp
	}
	c.AssignRoles(apacheUIDs)
	return c, nil
}

func (f *fakeSystem) ProbeSem(a sysvipc.SemArray) (sysvipc.SemDetail, error) {
	d, ok := f.details[a.SemID]
	if !ok {
		return d, fmt.Errorf("%w: semid %d", sysvipc.ErrGone, a.SemID)
	}
	return d, nil
}

func (f *fakeSystem) StatSem(id int32) (sysvipc.SemArray, error) {
	if f.onStat != nil {
		f.onStat(id)
	}
	a, ok := f.arrays[id]
	if !ok {
		return a, fmt.Errorf("%w: semid %d", sysvipc.ErrGone, id)
	}
	return a, nil
}

func (f *fakeSystem) RemoveSem(id int32) error {
	if _, ok := f.arrays[id]; !ok {
		return fmt.Errorf("%w: semid %d", sysvipc.ErrGone, id)
	}
	delete(f.arrays, id)
	f.removed = append(f.removed, id)
	return nil
}

func (f *fakeSystem) Process(pid int) (*sysvipc.Process, bool, error) {
	p, ok := f.procs[pid]
	return p, ok, nil
}

// Threads: the fake probes on one.
func (f *fakeSystem) Threads() int { return 1 }

func (f *fakeSystem) KeptBy(t sysvipc.Tally, c sysvipc.Census) []sysvipc.Kept {
	return sysvipc.KeptBy(t, c, sysvipc.ProcessInfoOf)
}

// Usage counts the fake's arrays.
func (f *fakeSystem) Usage() (sysvipc.Usage, error) {
	return sysvipc.Usage{SemArrays: int64(len(f.arrays))}, nil
}

// Namespace is the fake's one namespace.
func (f *fakeSystem) Namespace() uint64 { return f.ns }

// Enter records the namespace and stays: the fake has only one.
func (f *fakeSystem) Enter(pid int, fn func(System) error) error {
	f.entered = append(f.entered, pid)
	return fn(f)
}

func (f *fakeSystem) Signal(pid int, sig syscall.Signal) error {
	f.signals = append(f.signals, fmt.Sprintf("%d:%s", pid, sig))
	if f.dieOn[pid] == sig || sig == syscall.SIGKILL {
		delete(f.procs, pid)
		if f.onDeath != nil {
			f.onDeath(pid)
		}
	}
	return nil
}

const www = 33

var now = time.Unix(1_800_000_000, 0)

// world: three arrays leaked two hours ago by a dead server, one array of
// the running server, one of another user, one keyed www-data array.
// While that server runs, nothing older than it is provably stale.
func world() *fakeSystem {
	f := &fakeSystem{arrays: map[int32]sysvipc.SemArray{}, details: map[int32]sysvipc.SemDetail{}, procs: map[int]*sysvipc.Process{}}
	old := now.Add(-2 * time.Hour).Unix()
	add := func(id, key int32, uid uint32, ctime int64, value, pid int) {
		f.arrays[id] = sysvipc.SemArray{Key: key, SemID: id, Perms: 0o600, NSems: 1, UID: uid, CTime: ctime}
		f.details[id] = sysvipc.SemDetail{SemID: id, Key: key, UID: uid, NSems: 1, CTime: ctime, Value: value, PID: pid}
	}
	add(1, 0, www, old, 1, 900)
	add(2, 0, www, old, 1, 901)
	add(3, 0, www, old, 1, 902)
	add(10, 0, www, now.Add(-time.Hour).Unix(), 1, 100) // the running server's, never locked
	add(20, 0, 1000, old, 1, 903)                       // another user's
	add(30, 0x1234, www, old, 1, 904)                   // keyed
	f.procs[100] = &sysvipc.Process{PID: 100, PPID: 1, PGRP: 100, Exe: "apache2", Start: now.Add(-time.Hour)}
	f.procs[101] = &sysvipc.Process{PID: 101, PPID: 100, PGRP: 100, Exe: "apache2", APR: true, EUID: www, RUID: www, Start: now.Add(-time.Hour), StartTicks: 5000, Shared: []uint64{777}}
	return f
}

// outage: the world after the running server was SIGKILLed too, master
// and worker: no Apache process at all, Apache cannot start.
func outage() *fakeSystem {
	f := world()
	delete(f.procs, 100)
	delete(f.procs, 101)
	return f
}

// client is the remediator's own steps, in process: Plan and Apply are
// what Remediate runs inside the plugin, tested one at a time.
func client(t *testing.T, sys *fakeSystem) *Remediator {
	t.Helper()
	return &Remediator{Sys: sys, Now: func() time.Time { return now }, Poll: time.Millisecond, Confirm: time.Millisecond}
}

// overGRPC runs the remediator behind go-plugin's in-process gRPC
// connection: the same adapters the real plugin and host use.
func overGRPC(t *testing.T, sys *fakeSystem) remediate.Remediator {
	t.Helper()
	c, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{remediate.PluginName: &remediate.GRPCPlugin{Impl: client(t, sys)}})
	t.Cleanup(func() { c.Close() })
	raw, err := c.Dispense(remediate.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(remediate.Remediator)
}

var policy = remediate.Policy{ApacheUsers: []string{"33"}, MinAge: 5 * time.Minute}

func TestDescribe(t *testing.T) {
	d, err := overGRPC(t, world()).Describe()
	if err != nil || d.Name != "apache-sysvsem" || !slices.Contains(d.Capabilities, "kill-orphans") {
		t.Errorf("Describe() = %+v, %v", d, err)
	}
}

func TestPlanApply(t *testing.T) {
	sys := outage()
	r := client(t, sys)
	plan, err := r.Plan(policy)
	if err != nil {
		t.Fatal(err)
	}
	verdicts := map[int32]string{}
	for _, e := range plan.Arrays {
		verdicts[e.SemID] = string(e.Verdict)
	}
	want := map[int32]string{1: "stale", 2: "stale", 3: "stale", 10: "stale"}
	if fmt.Sprint(verdicts) != fmt.Sprint(want) {
		t.Errorf("plan verdicts %v, want %v (only Apache-shaped arrays are candidates)", verdicts, want)
	}
	if e := plan.Arrays[0]; e.Value != 1 || e.LastPID != 900 || e.PIDState != "dead" || e.Owner != "www-data" ||
		!slices.Equal(e.Reasons, []sysvipc.Reason{"no_apache_running", "last_pid_dead"}) {
		t.Errorf("evidence of semid 1 = %+v", e)
	}
	if len(sys.removed) != 0 {
		t.Fatalf("Plan removed %v", sys.removed)
	}

	res, err := r.Apply(plan)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sys.removed, []int32{1, 2, 3, 10}) || res.Count(remediate.Removed) != 4 {
		t.Errorf("removed %v (result %+v), want 1 2 3 10", sys.removed, res)
	}
}

// TestPlanMasterRunning: while a master runs, the arrays older than it
// may be its own (made in its start-up, before the fork): unknown, and
// nothing is removed.
func TestPlanMasterRunning(t *testing.T) {
	sys := world()
	r := client(t, sys)
	plan, err := r.Plan(policy)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]string{}
	for _, e := range plan.Arrays {
		got[e.SemID] = fmt.Sprint(e.Verdict, " ", e.Reasons)
	}
	want := map[int32]string{1: "unknown [master_may_own]", 2: "unknown [master_may_own]", 3: "unknown [master_may_own]", 10: "live [last_pid_alive]"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("plan %v, want %v", got, want)
	}
	res, err := r.Apply(plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(sys.removed) != 0 || len(res.Actions) != 0 {
		t.Errorf("removed %v (%+v) while a master runs", sys.removed, res.Actions)
	}
}

// TestApplyApacheStartedSincePlan: a master that started between the plan
// and the removal keeps every older array; the re-check says why.
func TestApplyApacheStartedSincePlan(t *testing.T) {
	sys := outage()
	r := client(t, sys)
	plan, err := r.Plan(policy)
	if err != nil {
		t.Fatal(err)
	}
	sys.procs[500] = &sysvipc.Process{PID: 500, PPID: 1, PGRP: 500, Exe: "apache2", Start: now}
	res, err := r.Apply(plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(sys.removed) != 0 || res.Count(remediate.Skipped) != 4 || res.Actions[0].Why != "unknown now (master_may_own)" {
		t.Errorf("removed %v, actions %+v", sys.removed, res.Actions)
	}
}

// TestApplyReverifies: an array that changed between plan and removal is
// skipped, whatever the plan said.
func TestApplyReverifies(t *testing.T) {
	tests := []struct {
		name   string
		change func(f *fakeSystem)
		why    string
	}{
		{"locked since", func(f *fakeSystem) {
			a := f.arrays[2]
			a.OTime = now.Unix()
			f.arrays[2] = a
		}, "changed since the plan (key 0 uid 33 ctime 1799992800 otime 1800000000)"},
		{"held, same times", func(f *fakeSystem) {
			d := f.details[2]
			d.Value = 0
			f.details[2] = d
		}, "held now (value 0)"},
		{"waiter", func(f *fakeSystem) {
			d := f.details[2]
			d.ZCnt = 1
			f.details[2] = d
		}, "waiters now (ncnt 0 zcnt 1)"},
		{"removed and id reused", func(f *fakeSystem) {
			f.arrays[2] = sysvipc.SemArray{Key: 0, SemID: 2, NSems: 1, UID: www, CTime: now.Unix()}
		}, "changed since the plan (key 0 uid 33 ctime 1800000000 otime 0)"},
		{"gone", func(f *fakeSystem) { delete(f.arrays, 2) }, "gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := outage()
			r := client(t, sys)
			plan, err := r.Plan(policy)
			if err != nil {
				t.Fatal(err)
			}
			sys.onStat = func(id int32) {
				if id == 2 {
					tt.change(sys)
				}
			}
			res, err := r.Apply(plan)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(sys.removed, 2) {
				t.Fatal("semid 2 was removed after it changed")
			}
			i := slices.IndexFunc(res.Actions, func(a remediate.Action) bool { return a.SemID == 2 })
			if i < 0 || res.Actions[i].Outcome != remediate.Skipped || res.Actions[i].Why != tt.why {
				t.Errorf("action for semid 2: %+v, want skipped %q", res.Actions, tt.why)
			}
			if !slices.Equal(sys.removed, []int32{1, 3, 10}) {
				t.Errorf("removed %v, want 1 3 10", sys.removed)
			}
		})
	}
}

func TestMaxRemovals(t *testing.T) {
	sys := outage()
	r := client(t, sys)
	p := policy
	p.MaxRemovals = 2
	plan, err := r.Plan(p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Apply(plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(sys.removed) != 2 || res.Count(remediate.Skipped) != 2 || res.Actions[2].Why != "max removals (2) reached" {
		t.Errorf("removed %v, result %+v", sys.removed, res)
	}
}

// TestOrphans: a worker whose master died may use the arrays made before
// it started. Without KillOrphans they stay; with it the worker gets
// SIGTERM (and SIGKILL if it lingers), then the arrays go.
func TestOrphans(t *testing.T) {
	orphaned := func() *fakeSystem {
		sys := world()
		delete(sys.procs, 100) // the master died; its workers live on
		sys.procs[101].PPID = 1
		sibling(sys)
		return sys
	}
	t.Run("left alone", func(t *testing.T) {
		sys := orphaned()
		r := client(t, sys)
		plan, err := r.Plan(policy)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Orphans) != 2 || plan.Orphans[0].PID != 101 || plan.Stale() != 0 {
			t.Fatalf("plan: %d stale, orphans %+v", plan.Stale(), plan.Orphans)
		}
		if _, err := r.Apply(plan); err != nil {
			t.Fatal(err)
		}
		if len(sys.removed)+len(sys.signals) != 0 {
			t.Errorf("removed %v, signalled %v without KillOrphans", sys.removed, sys.signals)
		}
	})
	for _, tt := range []struct {
		name    string
		dieOn   syscall.Signal
		signals []string
	}{
		{"exits on SIGTERM", syscall.SIGTERM, []string{"101:terminated"}},
		{"needs SIGKILL", 0, []string{"101:terminated", "101:killed"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sys := orphaned()
			sys.dieOn = map[int]syscall.Signal{101: tt.dieOn}
			r := client(t, sys)
			p := policy
			p.KillOrphans = true
			p.OrphanGrace = 20 * time.Millisecond
			plan, err := r.Plan(p)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Stale() != 4 {
				t.Fatalf("%d stale with orphans to be killed, want 4: %+v", plan.Stale(), plan.Arrays)
			}
			res, err := r.Apply(plan)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(signalsTo(sys, 101), tt.signals) || res.Orphans[0].Outcome != remediate.Killed {
				t.Errorf("signals %v, orphan result %+v", sys.signals, res.Orphans)
			}
			// Nothing goes on the word of a plan that assumed the orphan
			// dead: the next plan judges the arrays afresh.
			if len(sys.removed) != 0 || res.Count(remediate.Skipped) != 4 {
				t.Fatalf("round 1 removed %v (%+v), want nothing", sys.removed, res.Actions)
			}
			again, err := r.Plan(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Apply(again); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sys.removed, []int32{1, 2, 3, 10}) {
				t.Errorf("removed %v, want 1 2 3 10", sys.removed)
			}
		})
	}
	// Between plan and kill, the "orphan" showed an Apache child (a non-root
	// foreground master whose workers came late), or a master started: it
	// is never signalled.
	for name, change := range map[string]func(f *fakeSystem){
		"became a master": func(f *fakeSystem) {
			f.procs[102] = &sysvipc.Process{PID: 102, PPID: 101, PGRP: 100, Exe: "apache2", EUID: www, RUID: www, Start: now}
		},
		"a master started": func(f *fakeSystem) {
			f.procs[500] = &sysvipc.Process{PID: 500, PPID: 1, PGRP: 500, Exe: "apache2", Start: now}
		},
	} {
		t.Run(name, func(t *testing.T) {
			sys := orphaned()
			r := client(t, sys)
			p := policy
			p.KillOrphans = true
			plan, err := r.Plan(p)
			if err != nil {
				t.Fatal(err)
			}
			change(sys)
			res, err := r.Apply(plan)
			if err != nil {
				t.Fatal(err)
			}
			if len(sys.signals)+len(sys.removed) != 0 || res.Orphans[0].Outcome != remediate.Skipped {
				t.Errorf("signals %v, removed %v, orphan result %+v", sys.signals, sys.removed, res.Orphans)
			}
		})
	}
	t.Run("a master runs: orphans are not offered", func(t *testing.T) {
		sys := orphaned()
		sys.procs[500] = &sysvipc.Process{PID: 500, PPID: 1, PGRP: 500, Exe: "apache2", Start: now.Add(-time.Hour)}
		p := policy
		p.KillOrphans = true
		plan, err := client(t, sys).Plan(p)
		if err != nil || len(plan.Orphans) != 0 || plan.Stale() != 0 {
			t.Errorf("plan with a running master: %d orphans, %d stale, %v", len(plan.Orphans), plan.Stale(), err)
		}
	})
	t.Run("pid reused before the signal", func(t *testing.T) {
		sys := orphaned()
		r := client(t, sys)
		p := policy
		p.KillOrphans = true
		plan, err := r.Plan(p)
		if err != nil {
			t.Fatal(err)
		}
		sys.procs[101] = &sysvipc.Process{PID: 101, Comm: "bash", Start: now, StartTicks: 9999} // another process now
		res, err := r.Apply(plan)
		if err != nil {
			t.Fatal(err)
		}
		if len(signalsTo(sys, 101)) != 0 {
			t.Errorf("signalled a reused pid: %v", sys.signals)
		}
		if res.Orphans[0].Outcome != remediate.Gone || res.Orphans[0].Why != "exited before any signal" {
			t.Errorf("orphan result %+v", res.Orphans)
		}
	})
}

// TestPIDEntersNamespace: with a pid, Plan and Apply both work inside
// that process's namespace (the policy crosses the gRPC boundary).
func TestPIDEntersNamespace(t *testing.T) {
	sys := outage()
	r := client(t, sys)
	p := policy
	p.PID = 4242
	plan, err := r.Plan(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Apply(plan); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sys.entered, []int{4242, 4242}) || len(sys.removed) != 4 {
		t.Errorf("entered %v, removed %v", sys.entered, sys.removed)
	}
}

// TestApplyRefusesOtherNamespace: a plan is carried out only in the IPC
// namespace it was made in (a --pid whose process died and whose number
// was reused would point elsewhere).
func TestApplyRefusesOtherNamespace(t *testing.T) {
	sys := outage()
	sys.ns = 111
	r := client(t, sys)
	plan, err := r.Plan(policy)
	if err != nil {
		t.Fatal(err)
	}
	sys.ns = 222
	_, err = r.Apply(plan)
	if err == nil || !strings.Contains(err.Error(), "refusing to apply in another namespace: planned in ipc:[111], now in ipc:[222]") || len(sys.removed) != 0 {
		t.Errorf("Apply in another namespace: %v, removed %v", err, sys.removed)
	}
}

// TestApplyLastPIDAlive: a process that took the dead pid's number and
// touched the array within the plan's second keeps it.
func TestApplyLastPIDAlive(t *testing.T) {
	sys := outage()
	r := client(t, sys)
	plan, err := r.Plan(policy)
	if err != nil {
		t.Fatal(err)
	}
	sys.procs[900] = &sysvipc.Process{PID: 900, Comm: "php", Start: now.Add(-3 * time.Hour)}
	res, err := r.Apply(plan)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(sys.removed, 1) || res.Actions[0].Why != "last pid 900 is alive now" {
		t.Errorf("removed %v, action %+v", sys.removed, res.Actions[0])
	}
}

// TestRemediateOverGRPC: the whole protocol in one call across the real
// adapters: a dry run changes nothing; an act removes the stale arrays
// and counts before and after; with orphans and KillOrphans it kills
// them, judges again and removes in the same call.
func TestRemediateOverGRPC(t *testing.T) {
	sys := outage()
	r := overGRPC(t, sys)
	rep, err := r.Remediate(remediate.Request{Policy: policy, DryRun: true})
	if err != nil || len(sys.removed) != 0 || rep.Stale() != 4 || rep.ArraysBefore != 6 || rep.ArraysAfter != 6 || !rep.DryRun || len(rep.Actions) != 0 {
		t.Fatalf("dry run: %+v, removed %v, %v", rep, sys.removed, err)
	}
	if e := rep.Evidence[0]; e.Verdict != sysvipc.Stale || !slices.Equal(e.Reasons, []sysvipc.Reason{sysvipc.ReasonNoApache, sysvipc.ReasonLastPIDDead}) || e.PIDState != sysvipc.PIDDead || e.Round != 1 {
		t.Errorf("evidence across the boundary: %+v", e)
	}
	rep, err = r.Remediate(remediate.Request{Policy: policy})
	if err != nil || rep.Count(remediate.Removed) != 4 || rep.ArraysBefore != 6 || rep.ArraysAfter != 2 || rep.Rounds != 1 {
		t.Errorf("act: %+v, %v", rep, err)
	}

	sys = outage()
	sys.procs[101] = &sysvipc.Process{PID: 101, PPID: 1, PGRP: 100, Exe: "apache2", APR: true, EUID: www, RUID: www, Start: now.Add(-time.Hour), StartTicks: 5000, Shared: []uint64{777}}
	sibling(sys)
	sys.dieOn = map[int]syscall.Signal{101: syscall.SIGTERM, 103: syscall.SIGTERM}
	p := policy
	p.KillOrphans, p.OrphanGrace = true, 20*time.Millisecond
	rep, err = overGRPC(t, sys).Remediate(remediate.Request{Policy: p})
	if err != nil || rep.Rounds != 2 || rep.Count(remediate.Removed) != 4 || len(rep.OrphanActions) != 2 || rep.OrphanActions[0].Outcome != remediate.Killed {
		t.Errorf("kill orphans, then finish: %+v, %v", rep, err)
	}
	if !slices.Equal(sys.removed, []int32{1, 2, 3, 10}) {
		t.Errorf("removed %v, want 1 2 3 10", sys.removed)
	}
}

// TestKillOrphansThenFinish: the orphan held the accept mutex; killing it
// ran its SEM_UNDO, which stamped the array with its pid and the time of
// death. That is no sign of life: the same call removes the array too,
// the minimum age notwithstanding. An array another process touched after
// would carry that process's pid and stay.
func TestKillOrphansThenFinish(t *testing.T) {
	sys := outage()
	sys.procs[101] = &sysvipc.Process{PID: 101, PPID: 1, PGRP: 100, Exe: "apache2", APR: true, EUID: www, RUID: www, Start: now.Add(-time.Hour), StartTicks: 5000, Shared: []uint64{777}}
	sibling(sys)
	held := sys.details[2]
	held.Value, held.PID = 0, 101
	sys.details[2] = held
	sys.dieOn = map[int]syscall.Signal{101: syscall.SIGTERM, 103: syscall.SIGTERM}
	sys.onDeath = func(pid int) {
		if pid != 101 {
			return
		}
		d := sys.details[2]
		d.Value, d.PID, d.OTime = 1, pid, now.Unix()
		sys.details[2] = d
		a := sys.arrays[2]
		a.OTime = now.Unix()
		sys.arrays[2] = a
	}
	p := policy // the default 5 minutes
	p.KillOrphans, p.OrphanGrace = true, 20*time.Millisecond
	rep, err := overGRPC(t, sys).Remediate(remediate.Request{Policy: p})
	slices.Sort(sys.removed)
	if err != nil || rep.Rounds != 2 || !slices.Equal(sys.removed, []int32{1, 2, 3, 10}) {
		t.Errorf("removed %v in %d rounds (%v): %+v", sys.removed, rep.Rounds, err, rep.Actions)
	}
}

// sibling adds a second orphaned worker of the dead master (group 100),
// sharing its scoreboard (inode 777): without a record, only orphans that
// share one with another orphan of their group are offered for killing.
func sibling(f *fakeSystem) {
	f.procs[103] = &sysvipc.Process{PID: 103, PPID: 1, PGRP: 100, Exe: "apache2", APR: true, EUID: www, RUID: www, Start: now.Add(-time.Hour), StartTicks: 5003, Shared: []uint64{777}}
}

// signalsTo are the signals one pid got.
func signalsTo(f *fakeSystem, pid int) []string {
	var out []string
	for _, s := range f.signals {
		if strings.HasPrefix(s, fmt.Sprintf("%d:", pid)) {
			out = append(out, s)
		}
	}
	return out
}

// TestLoneOrphanNotOffered: without a record, a
// certain orphan alone in its process group is never offered for
// killing: a one-process server with -k start and ONE_PROCESS defined in
// its config file, whose launcher exited, looks exactly like it.
func TestLoneOrphanNotOffered(t *testing.T) {
	sys := world()
	delete(sys.procs, 100)
	sys.procs[101].PPID = 1
	p := policy
	p.KillOrphans = true
	plan, err := client(t, sys).Plan(p)
	if err != nil || len(plan.Orphans) != 0 {
		t.Errorf("a lone orphan was offered: %+v, %v", plan.Orphans, err)
	}
	// Two one-process servers one script started, alone in its group once
	// it exited: each has its own scoreboard.
	sys.procs[103] = &sysvipc.Process{PID: 103, PPID: 1, PGRP: 100, Exe: "apache2", APR: true, EUID: www, RUID: www, Start: now, StartTicks: 5003, Shared: []uint64{778}}
	plan, err = client(t, sys).Plan(p)
	if err != nil || len(plan.Orphans) != 0 {
		t.Errorf("two servers started apart were offered: %+v, %v", plan.Orphans, err)
	}
}
