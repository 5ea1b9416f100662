package leaks

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// hookHost keeps the unit records between calls, as the host does.
type hookHost struct {
	t       *testing.T
	r       remediate.Remediator
	records map[string][]byte
}

func newHookHost(t *testing.T, sys *fakeSystem) *hookHost {
	return &hookHost{t: t, r: overGRPC(t, sys), records: map[string][]byte{}}
}

func (h *hookHost) call(hook remediate.Hook, unit string, mainPID int, p remediate.Policy) remediate.Report {
	h.t.Helper()
	rep, err := h.r.Remediate(remediate.Request{Policy: p, Hook: hook, Unit: unit, MainPID: mainPID, Records: h.records})
	if err != nil {
		h.t.Fatalf("%s %s: %v", hook, unit, err)
	}
	if hook != remediate.NoHook {
		if rep.Record == nil {
			h.t.Fatalf("%s %s: no record back", hook, unit)
		}
		h.records[unit] = rep.Record
	}
	return rep
}

func (h *hookHost) recorded(unit string) []int32 {
	var rec sysvipc.UnitRecord
	if err := json.Unmarshal(h.records[unit], &rec); err != nil {
		h.t.Fatal(err)
	}
	var ids []int32
	for _, s := range rec.Starts {
		for _, a := range s.Arrays {
			ids = append(ids, a.SemID)
		}
	}
	slices.Sort(ids)
	return ids
}

// recordStart is one recorded start of unit, as its hooks see it: the
// before-start, the start (startUnit: arrays 40, 41, 42, master 200),
// the after-start.
func (h *hookHost) recordStart(sys *fakeSystem, unit string) {
	h.t.Helper()
	h.call(remediate.BeforeStart, unit, 0, policy)
	startUnit(sys, [3]int32{40, 41, 42}, 199, 200, 7000)
	h.call(remediate.AfterStart, unit, 200, policy)
}

// startUnit makes the world go through one start of a unit between its
// hooks: a start-up process 199 makes array 42 and exits, master 200 with
// worker 201 makes 40 and 41.
func startUnit(f *fakeSystem, ids [3]int32, startup, master int, ticks uint64) {
	made := now.Add(-time.Second).Unix()
	for i, id := range ids {
		pid := master
		if i == 2 {
			pid = startup // dead by the after-start
		}
		f.arrays[id] = sysvipc.SemArray{SemID: id, Perms: 0o600, NSems: 1, UID: www, CTime: made}
		f.details[id] = sysvipc.SemDetail{SemID: id, UID: www, NSems: 1, CTime: made, Value: 1, PID: pid}
	}
	const server = "/usr/sbin/apache2"
	scoreboard := []uint64{ticks}
	f.procs[master] = &sysvipc.Process{PID: master, PPID: 1, PGRP: master, Exe: "apache2", ExePath: server, APR: true, Start: now, StartTicks: ticks, Shared: scoreboard}
	f.procs[master+1] = &sysvipc.Process{PID: master + 1, PPID: master, PGRP: master, Exe: "apache2", ExePath: server, APR: true, EUID: www, RUID: www, Start: now, StartTicks: ticks + 1, Shared: scoreboard}
}

func crash(f *fakeSystem, master int) {
	delete(f.procs, master)
	delete(f.procs, master+1)
}

// TestHooksWitnessTheUnitsArrays: beside a running Apache (100, array 10)
// and an old unrecorded leak (1, 2, 3), a unit starts, is recorded, dies;
// its before-start removes exactly its three arrays, with no minimum age.
func TestHooksWitnessTheUnitsArrays(t *testing.T) {
	sys := world()
	h := newHookHost(t, sys)
	rep := h.call(remediate.BeforeStart, "apache2.service", 0, policy)
	if rep.Count(remediate.Removed) != 0 {
		t.Fatalf("first before-start removed %v", sys.removed)
	}
	startUnit(sys, [3]int32{40, 41, 42}, 199, 200, 7000)
	rep = h.call(remediate.AfterStart, "apache2.service", 200, policy)
	if got := h.recorded("apache2.service"); !slices.Equal(got, []int32{40, 41, 42}) {
		t.Errorf("recorded %v, want [40 41 42] (%s)", got, rep.Note)
	}
	crash(sys, 200)
	rep = h.call(remediate.BeforeStart, "apache2.service", 0, policy)
	slices.Sort(sys.removed)
	if !slices.Equal(sys.removed, []int32{40, 41, 42}) {
		t.Errorf("removed %v, want [40 41 42]; %s", sys.removed, rep.Note)
	}
	if !strings.Contains(rep.Note, "removed 3 arrays (3 witnessed leaks of dead starts)") {
		t.Errorf("note %q", rep.Note)
	}
	for _, e := range rep.Evidence {
		if e.SemID == 40 && !slices.Equal(e.Reasons, []sysvipc.Reason{sysvipc.ReasonWitnessedLeak, sysvipc.ReasonLastPIDDead}) {
			t.Errorf("semid 40's reasons %v", e.Reasons)
		}
	}
	if got := h.recorded("apache2.service"); len(got) != 0 {
		t.Errorf("the record still holds %v after their removal", got)
	}
}

// TestAfterStartWindow: an array whose last user is gone is recorded only
// when no other Apache started between the hooks; a main pid that ran
// before the before-start records nothing.
func TestAfterStartWindow(t *testing.T) {
	sys := world()
	h := newHookHost(t, sys)
	h.call(remediate.BeforeStart, "apache2.service", 0, policy)
	startUnit(sys, [3]int32{40, 41, 42}, 199, 200, 7000)
	sys.procs[300] = &sysvipc.Process{PID: 300, PPID: 1, PGRP: 300, Exe: "apache2", APR: true, Start: now, StartTicks: 7100}
	rep := h.call(remediate.AfterStart, "apache2.service", 200, policy)
	if got := h.recorded("apache2.service"); !slices.Equal(got, []int32{40, 41}) {
		t.Errorf("recorded %v, want [40 41]: 42's last user is gone and pid 300 started meanwhile", got)
	}
	if !strings.Contains(rep.Note, "pid 300 () started meanwhile") {
		t.Errorf("note %q", rep.Note)
	}

	h.call(remediate.BeforeStart, "other.service", 0, policy)
	rep = h.call(remediate.AfterStart, "other.service", 100, policy) // the neighbour's master
	if got := h.recorded("other.service"); len(got) != 0 || !strings.Contains(rep.Note, "was running before this start") {
		t.Errorf("a main pid from before the start: recorded %v, %q", got, rep.Note)
	}
	rep = h.call(remediate.AfterStart, "gone.service", 4242, policy)
	if !strings.Contains(rep.Note, "main pid 4242 is not running: nothing recorded") {
		t.Errorf("note %q", rep.Note)
	}
}

// TestWitnessedKeptWhileInUse: a dead start's recorded array stays while
// anything may use it: a waiter, a holder, a live last user, an orphaned
// worker, an Apache process left in the dead master's group. A recorded
// master whose pid was taken by another process is dead.
func TestWitnessedKeptWhileInUse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(f *fakeSystem)
		keep   bool
	}{
		{"nothing uses them", func(*fakeSystem) {}, false},
		{"waiter", func(f *fakeSystem) { d := f.details[40]; d.NCnt = 1; f.details[40] = d }, true},
		{"held", func(f *fakeSystem) { d := f.details[40]; d.Value = 0; f.details[40] = d }, true},
		{"last user alive", func(f *fakeSystem) {
			f.procs[199] = &sysvipc.Process{PID: 199, PPID: 1, PGRP: 199, Exe: "sleep", StartTicks: 1}
			d := f.details[40]
			d.PID = 199
			f.details[40] = d
		}, true},
		{"orphan", func(f *fakeSystem) {
			f.procs[201] = &sysvipc.Process{PID: 201, PPID: 1, PGRP: 200, Exe: "apache2", APR: true, EUID: www, RUID: www, StartTicks: 7001}
		}, true},
		{"master pid reused", func(f *fakeSystem) {
			// The array's last user was a worker, gone; the master's pid
			// now runs a shell, with other start ticks. (Were the shell's
			// pid the last user's, last_pid_alive would keep it.) Root
			// reads its executable: a shell, not a renamed Apache.
			f.procs[200] = &sysvipc.Process{PID: 200, PPID: 1, PGRP: 200, Exe: "bash", ExePath: "/usr/bin/bash", StartTicks: 9999}
			d := f.details[40]
			d.PID = 201
			f.details[40] = d
		}, false},
		{"a process in the dead master's group whose executable cannot be read", func(f *fakeSystem) {
			f.procs[202] = &sysvipc.Process{PID: 202, PPID: 1, PGRP: 200, Comm: "httpd-custom", StartTicks: 7002}
		}, true},
		{"master alive", func(f *fakeSystem) {
			f.procs[200] = &sysvipc.Process{PID: 200, PPID: 1, PGRP: 200, Exe: "apache2", APR: true, StartTicks: 7000}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := world()
			h := newHookHost(t, sys)
			h.recordStart(sys, "apache2.service")
			crash(sys, 200)
			tc.change(sys)
			rep := h.call(remediate.BeforeStart, "apache2.service", 0, policy)
			if kept := !slices.Contains(sys.removed, 40); kept != tc.keep {
				t.Errorf("semid 40 kept %v, want %v; removed %v; %s", kept, tc.keep, sys.removed, rep.Note)
			}
			for _, id := range []int32{1, 2, 3, 10} {
				if slices.Contains(sys.removed, id) {
					t.Errorf("removed semid %d, which no record holds, beside a running Apache", id)
				}
			}
		})
	}
}

// TestEventHandlerUsesRecords: the Nagios event handler, given the
// records, removes a dead start's arrays beside a running Apache, and an
// array another unit's live master recorded never goes, whatever else
// the rules say.
func TestEventHandlerUsesRecords(t *testing.T) {
	sys := world()
	h := newHookHost(t, sys)
	h.recordStart(sys, "a.service")
	crash(sys, 200)
	rep := h.call(remediate.NoHook, "", 0, policy)
	slices.Sort(sys.removed)
	if !slices.Equal(sys.removed, []int32{40, 41, 42}) || rep.Record != nil {
		t.Errorf("event handler removed %v (record %q)", sys.removed, rep.Record)
	}

	// A record naming the running server's array 10 under its live master.
	live := sysvipc.UnitRecord{Unit: "b.service", Starts: []sysvipc.UnitStart{{
		IPCNS: sys.Namespace(), Master: sysvipc.ProcessID{PID: 100}, Arrays: []sysvipc.Witnessed{sysvipc.WitnessOf(sys.arrays[10])},
	}}}.Encode()
	census, _ := sys.Census(map[uint32]bool{www: true})
	pol := sysvipc.Policy{ApacheUIDs: map[uint32]bool{www: true}, Records: sysvipc.NewNamespaceRecords(map[string][]byte{"b.service": live}, sys.Namespace())}
	d, _ := sys.ProbeSem(sys.arrays[10])
	if got := sysvipc.NewJudge(census, pol).Recheck(sys.arrays[10], d); got.Verdict != sysvipc.Live || got.Reasons[0] != sysvipc.ReasonWitnessedLive {
		t.Errorf("an array a live master recorded: %s %v", got.Verdict, got.Reasons)
	}
}

// TestRecordRefused: a record of another version, for another unit, or
// with unknown fields is ignored (the normal rules decide) and named.
func TestRecordRefused(t *testing.T) {
	for name, body := range map[string]string{
		"version":       `{"version":2,"unit":"a.service","starts":[]}`,
		"unit":          `{"version":1,"unit":"b.service","starts":[]}`,
		"unknown field": `{"version":1,"unit":"a.service","starts":[],"extra":1}`,
		"master pid":    `{"version":1,"unit":"a.service","starts":[{"master":{"pid":0,"start_ticks":1},"arrays":[]}]}`,
		"not json":      `{`,
	} {
		nsRecords := sysvipc.NewNamespaceRecords(map[string][]byte{"a.service": []byte(body)}, 0)
		if len(nsRecords.Units) != 0 || len(nsRecords.Problems) != 1 || !strings.Contains(nsRecords.Problems[0], "unit a.service") {
			t.Errorf("%s: records %v, problems %q", name, nsRecords.Units, nsRecords.Problems)
		}
	}
}

// TestRecordOfAnotherNamespace: a start recorded in another IPC namespace
// (the host's record, the handler judging a container with --pid) says
// nothing of this namespace's arrays, whatever their semids.
func TestRecordOfAnotherNamespace(t *testing.T) {
	sys := world()
	sys.ns = 7
	h := newHookHost(t, sys)
	h.recordStart(sys, "a.service")
	crash(sys, 200)
	sys.ns = 8
	h.call(remediate.NoHook, "", 0, policy)
	h.call(remediate.BeforeStart, "b.service", 0, policy)
	if len(sys.removed) != 0 {
		t.Errorf("removed %v on another namespace's record", sys.removed)
	}
	sys.ns = 7
	h.call(remediate.BeforeStart, "a.service", 0, policy)
	slices.Sort(sys.removed)
	if !slices.Equal(sys.removed, []int32{40, 41, 42}) {
		t.Errorf("back in its namespace: removed %v, want [40 41 42]", sys.removed)
	}
}

// TestAfterStartRestartInWindow: a running Apache's
// graceful restart between the hooks replaces its arrays with new ones
// whose last user, a worker, may have exited: no master is new, but an
// array of the snapshot is gone, so no array with a gone last user is
// recorded. And a worker's pid as the main pid records nothing (F4).
func TestAfterStartRestartInWindow(t *testing.T) {
	sys := world()
	h := newHookHost(t, sys)
	h.call(remediate.BeforeStart, "a.service", 0, policy)
	// The neighbour's graceful: array 10 goes, 11 comes, last used by a
	// worker that exited.
	delete(sys.arrays, 10)
	sys.arrays[11] = sysvipc.SemArray{SemID: 11, Perms: 0o600, NSems: 1, UID: www, CTime: now.Add(-time.Second).Unix()}
	sys.details[11] = sysvipc.SemDetail{SemID: 11, UID: www, NSems: 1, CTime: now.Add(-time.Second).Unix(), Value: 1, PID: 150}
	startUnit(sys, [3]int32{40, 41, 42}, 199, 200, 7000)
	rep := h.call(remediate.AfterStart, "a.service", 200, policy)
	if got := h.recorded("a.service"); !slices.Equal(got, []int32{40, 41}) {
		t.Errorf("recorded %v, want [40 41] (%s)", got, rep.Note)
	}
	if !strings.Contains(rep.Note, "semid 10 of the before-start is gone") {
		t.Errorf("note %q", rep.Note)
	}

	h.call(remediate.BeforeStart, "w.service", 0, policy)
	startUnit(sys, [3]int32{50, 51, 52}, 299, 300, 8000)
	rep = h.call(remediate.AfterStart, "w.service", 301, policy) // the new master's worker
	if got := h.recorded("w.service"); len(got) != 0 || !strings.Contains(rep.Note, "not an Apache master leading its process group") {
		t.Errorf("a worker as main pid: recorded %v, %q", got, rep.Note)
	}
}

// TestAfterStartNotTheStarts: what the window and
// the master's tree must not claim. A: a process that is not the start's
// started in the window (a root daemon's worker, a reloaded neighbour's
// new worker) makes the window unclear even when no array vanished and
// no master is new. B: a child of the master that is not Apache (a piped
// logger) is no witness for what it touched. D: an Apache worker of the
// master whose pid once belonged to the array's last user, which touched
// the array before that worker started, is no witness either.
func TestAfterStartNotTheStarts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(f *fakeSystem)
		want   []int32
		note   string
	}{
		{"a new process outside the tree", func(f *fakeSystem) {
			f.procs[400] = &sysvipc.Process{PID: 400, PPID: 1, PGRP: 400, Exe: "lockd", Comm: "lockd", StartTicks: 7500}
		}, []int32{40, 41}, "pid 400 (lockd) started meanwhile"},
		{"a non-Apache child of the master", func(f *fakeSystem) {
			f.procs[250] = &sysvipc.Process{PID: 250, PPID: 200, PGRP: 200, Exe: "logger.sh", Comm: "logger.sh", StartTicks: 7002, Start: now}
			d := f.details[41]
			d.PID = 250
			f.details[41] = d
		}, []int32{40, 42}, "not the server"},
		{"a child of the master linked with APR", func(f *fakeSystem) {
			f.procs[250] = &sysvipc.Process{PID: 250, PPID: 200, PGRP: 200, Exe: "rotatelogs", ExePath: "/usr/bin/rotatelogs", APR: true, StartTicks: 7002, Start: now}
			d := f.details[41]
			d.PID = 250
			f.details[41] = d
		}, []int32{40, 42}, "not the server"},
		{"a worker that took a gone user's pid", func(f *fakeSystem) {
			d := f.details[41]
			d.PID = 201
			f.details[41] = d
			// Made and last used a minute before worker 201 started.
			a := f.arrays[41]
			a.OTime, a.CTime = now.Add(-time.Minute).Unix(), now.Add(-time.Minute).Unix()
			f.arrays[41] = a
		}, []int32{40, 42}, "not surely after it started"},
		{"a worker's touch right at its start, in an unclear window", func(f *fakeSystem) {
			// A neighbour's worker with this pid may have touched it a
			// second before the unit's worker took the pid; a new
			// process makes the window unclear.
			f.procs[400] = &sysvipc.Process{PID: 400, PPID: 1, PGRP: 400, Exe: "lockd", Comm: "lockd", StartTicks: 7500}
			d := f.details[40]
			d.PID = 201
			f.details[40] = d
		}, []int32{41}, "pid 400 (lockd) started meanwhile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := world()
			h := newHookHost(t, sys)
			h.call(remediate.BeforeStart, "a.service", 0, policy)
			startUnit(sys, [3]int32{40, 41, 42}, 199, 200, 7000)
			tc.change(sys)
			rep := h.call(remediate.AfterStart, "a.service", 200, policy)
			if got := h.recorded("a.service"); !slices.Equal(got, tc.want) || !strings.Contains(rep.Note, tc.note) {
				t.Errorf("recorded %v, want %v; note %q, want %q", got, tc.want, rep.Note, tc.note)
			}
		})
	}
}

// TestRecordedGroupReused: a crashed unit's master
// pid, still in its record, is taken by a launcher that starts a
// one-process server and exits: the server is alone in a group the record
// names, beside a running master. It shares no mapping with the recorded
// master, so it is never offered for killing; the master's own orphaned
// worker, which shares its scoreboard, is.
func TestRecordedGroupReused(t *testing.T) {
	sys := world()
	h := newHookHost(t, sys)
	h.recordStart(sys, "a.service")
	crash(sys, 200)
	sys.procs[201] = &sysvipc.Process{PID: 201, PPID: 1, PGRP: 200, Exe: "apache2", APR: true, EUID: www, RUID: www, Start: now, StartTicks: 9001, Shared: []uint64{9001}}
	p := policy
	p.KillOrphans = true
	rep := h.call(remediate.NoHook, "", 0, p)
	if len(rep.Orphans) != 0 || len(sys.signals) != 0 {
		t.Errorf("a server in a reused group was offered: %+v, signals %v", rep.Orphans, sys.signals)
	}
	sys.procs[201].Shared = []uint64{7000} // the dead master's scoreboard
	rep = h.call(remediate.NoHook, "", 0, p)
	if len(rep.Orphans) != 1 || rep.Orphans[0].PID != 201 {
		t.Errorf("the recorded master's own orphan was not offered: %+v", rep.Orphans)
	}
}
