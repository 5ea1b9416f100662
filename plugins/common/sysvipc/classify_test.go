package sysvipc

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type fakeProber map[int32]SemDetail

func (f fakeProber) ProbeSem(a SemArray) (SemDetail, error) {
	d, ok := f[a.SemID]
	if !ok {
		return SemDetail{}, fmt.Errorf("%w: semctl GETALL semid %d: permission denied", ErrPermission, a.SemID)
	}
	return d, nil
}

func TestClassify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	hour := int64(3600)
	const www = 33
	old := now.Unix() - 2*hour // the leak happened two hours ago
	array := func(id int32, key int32, nsems uint64, uid uint32) SemArray {
		return SemArray{Key: key, SemID: id, Perms: 0o600, NSems: nsems, UID: uid, CTime: old}
	}
	detail := func(a SemArray, value uint16, pid int) SemDetail {
		return SemDetail{SemID: a.SemID, Key: a.Key, UID: a.UID, NSems: a.NSems, CTime: a.CTime, OTime: a.OTime, Value: int(value), PID: pid}
	}
	master := &Process{PID: 100, PPID: 1, PGRP: 100, Exe: "apache2", Start: now.Add(-time.Hour)}
	worker := &Process{PID: 101, PPID: 100, PGRP: 100, Exe: "apache2", EUID: www, RUID: www, Start: now.Add(-time.Hour)}
	pol := Policy{ApacheUIDs: map[uint32]bool{www: true, 48: true}, MinAge: DefaultMinAge, Now: now}

	tests := []struct {
		name     string
		array    SemArray
		detail   *SemDetail // nil: unreadable
		procs    []*Process
		verdict  Verdict
		reasons  []Reason
		pidState PIDState
		blocker  int    // the pid that kept it (Classification.Blocker); 0: none
		declared string // a neighbour root's policy file declares
	}{
		{name: "keyed", array: array(1, 0x1234, 1, www), verdict: Live, reasons: []Reason{ReasonKeyed}, pidState: PIDUnknown},
		{name: "other user", array: array(1, 0, 1, 1000), verdict: Live, reasons: []Reason{ReasonNotApacheUser}, pidState: PIDUnknown},
		{name: "two semaphores", array: array(1, 0, 2, www), verdict: Live, reasons: []Reason{ReasonNotSingle}, pidState: PIDUnknown},
		{name: "unreadable", array: array(1, 0, 1, www), verdict: Unknown, reasons: []Reason{ReasonUnreadable}, pidState: PIDUnknown},
		{name: "no apache, dead pid", array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			verdict: Stale, reasons: []Reason{ReasonNoApache, ReasonLastPIDDead}, pidState: PIDDead},
		{name: "waiter", array: array(1, 0, 1, www), detail: func() *SemDetail { d := detail(array(1, 0, 1, www), 1, 4242); d.NCnt = 1; return &d }(),
			verdict: Live, reasons: []Reason{ReasonWaiters}, pidState: PIDDead},
		{name: "held", array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 0, 4242)),
			verdict: Live, reasons: []Reason{ReasonHeld}, pidState: PIDDead},
		{name: "too young", array: func() SemArray { a := array(1, 0, 1, www); a.CTime = now.Unix() - 60; return a }(),
			detail:  func() *SemDetail { a := array(1, 0, 1, www); a.CTime = now.Unix() - 60; return ptr(detail(a, 1, 4242)) }(),
			verdict: Live, reasons: []Reason{ReasonTooYoung}, pidState: PIDDead},
		{name: "last pid alive", blocker: 7, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 7)),
			procs:   []*Process{{PID: 7, Comm: "php", Start: now.Add(-3 * time.Hour)}},
			verdict: Live, reasons: []Reason{ReasonLastPIDAlive}, pidState: PIDAlive},
		// Its start looks later than the last operation, but only on two
		// clocks a wall-clock step can pull apart: never judged reused.
		{name: "last pid alive, started after the operation", blocker: 7, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 7)),
			procs:   []*Process{{PID: 7, Comm: "bash", Start: now.Add(-time.Minute)}},
			verdict: Live, reasons: []Reason{ReasonLastPIDAlive}, pidState: PIDAlive},
		{name: "pid outside namespace", array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 0)),
			verdict: Unknown, reasons: []Reason{ReasonLastPIDUnknown}, pidState: PIDUnknown},
		{name: "predates the running master", blocker: 100, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs:   []*Process{master, worker},
			verdict: Unknown, reasons: []Reason{ReasonMasterMayOwn}, pidState: PIDDead},
		// mod_ssl made it in the start-up process, 3 s before the fork (a
		// pass-phrase dialog); its last pid is that start-up process.
		{name: "slow start: made before the master forked", blocker: 100, array: func() SemArray { a := array(1, 0, 1, www); a.CTime = master.Start.Unix() - 3; return a }(),
			detail: func() *SemDetail {
				a := array(1, 0, 1, www)
				a.CTime = master.Start.Unix() - 3
				return ptr(detail(a, 1, 99))
			}(),
			procs: []*Process{master, worker}, verdict: Unknown, reasons: []Reason{ReasonMasterMayOwn}, pidState: PIDDead},
		// The wall clock stepped an hour forward after the master made its
		// arrays: btime moved, so the master seems to start an hour later.
		{name: "clock step: the master's start moved past its arrays", blocker: 100, array: func() SemArray { a := array(1, 0, 1, www); a.CTime = master.Start.Unix(); return a }(),
			detail: func() *SemDetail {
				a := array(1, 0, 1, www)
				a.CTime = master.Start.Unix()
				return ptr(detail(a, 1, 4242))
			}(),
			procs: []*Process{
				{PID: 100, PPID: 1, PGRP: 100, Exe: "apache2", Start: master.Start.Add(time.Hour)},
				{PID: 101, PPID: 100, PGRP: 100, Exe: "apache2", EUID: www, RUID: www, Start: master.Start.Add(time.Hour)},
			},
			verdict: Unknown, reasons: []Reason{ReasonMasterMayOwn}, pidState: PIDDead},
		{name: "start-up in progress: a root apache2 without children", blocker: 200, array: func() SemArray { a := array(1, 0, 1, www); a.CTime = now.Unix() - 600; return a }(),
			detail: func() *SemDetail {
				a := array(1, 0, 1, www)
				a.CTime = now.Unix() - 600
				return ptr(detail(a, 1, 4242))
			}(),
			procs: []*Process{{PID: 200, PPID: 150, PGRP: 150, Exe: "apache2", Start: time.Unix(now.Unix()-601, 0)}}, verdict: Live, reasons: []Reason{ReasonAfterMasterStart}, pidState: PIDDead},
		{name: "orphan of another apache user still blocks", blocker: 300, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs:   []*Process{{PID: 300, PPID: 1, PGRP: 299, Exe: "httpd", EUID: 48, RUID: 48, Start: time.Unix(old+5, 0)}},
			verdict: Unknown, reasons: []Reason{ReasonOrphanAlive}, pidState: PIDDead},
		{name: "never locked mutex of the running master", blocker: 100, array: func() SemArray { a := array(1, 0, 1, www); a.CTime = master.Start.Unix(); return a }(),
			detail: func() *SemDetail {
				a := array(1, 0, 1, www)
				a.CTime = master.Start.Unix()
				return ptr(detail(a, 1, 4242))
			}(),
			procs: []*Process{master, worker}, verdict: Live, reasons: []Reason{ReasonAfterMasterStart}, pidState: PIDDead},
		{name: "orphan worker may use it", blocker: 300, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs:   []*Process{{PID: 300, PPID: 1, PGRP: 299, Exe: "apache2", EUID: www, RUID: www, Start: time.Unix(old+5, 0)}},
			verdict: Unknown, reasons: []Reason{ReasonOrphanAlive}, pidState: PIDDead},
		{name: "orphan started before it still may use it", blocker: 300, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs:   []*Process{{PID: 300, PPID: 1, PGRP: 299, Exe: "apache2", EUID: www, RUID: www, Start: time.Unix(old-600, 0)}},
			verdict: Unknown, reasons: []Reason{ReasonOrphanAlive}, pidState: PIDDead},
		{name: "non-root master under a live supervisor's group is no master", blocker: 300, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs: []*Process{
				{PID: 299, PPID: 1, PGRP: 299, Comm: "runsv", Start: time.Unix(old-600, 0)},
				{PID: 300, PPID: 1, PGRP: 299, Exe: "apache2", EUID: www, RUID: www, Start: now.Add(-time.Minute)},
			},
			verdict: Unknown, reasons: []Reason{ReasonOrphanAlive}, pidState: PIDDead},
		{name: "root's arrays are never candidates", array: array(1, 0, 1, 0), verdict: Live, reasons: []Reason{ReasonNotApacheUser}, pidState: PIDUnknown},
		{name: "owner process predates it", blocker: 50, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs:   []*Process{{PID: 50, PPID: 1, PGRP: 50, Comm: "cron-job", ExePath: "/usr/local/bin/cron-job", EUID: www, RUID: www, Start: time.Unix(old-10, 0)}},
			verdict: Unknown, reasons: []Reason{ReasonOwnerAlive}, pidState: PIDDead},
		// A www-data program made it (cuid 33) and exited; its child, started
		// later, keeps using it.
		{name: "made by a non-root program, a process of that user runs", blocker: 50, array: func() SemArray { a := array(1, 0, 1, www); a.CUID = www; return a }(),
			detail:  ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs:   []*Process{{PID: 50, PPID: 1, PGRP: 49, Comm: "worker", EUID: www, RUID: www, Start: time.Unix(old+3, 0)}},
			verdict: Unknown, reasons: []Reason{ReasonOwnerAlive}, pidState: PIDDead},
		// A root program made it, handed it to www-data and forked its
		// workers later (as Apache does): a start after the array is no
		// evidence, and neither clock can be trusted to order them.
		{name: "owner process started later still may use it", blocker: 50, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs:   []*Process{{PID: 50, PPID: 49, PGRP: 49, Comm: "lockd", ExePath: "/usr/sbin/lockd", EUID: www, RUID: www, Start: time.Unix(old+60, 0)}},
			verdict: Unknown, reasons: []Reason{ReasonOwnerAlive}, pidState: PIDDead},
		// A php-fpm pool of www-data started before the leak: PHP cannot use
		// a private array root made, so it keeps nothing.
		{name: "php-fpm pool beside a root-made array", array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs: []*Process{
				{PID: 40, PPID: 1, PGRP: 40, Exe: "php-fpm8.2", ExePath: "/usr/sbin/php-fpm8.2", Start: time.Unix(old-600, 0)},
				{PID: 41, PPID: 40, PGRP: 40, Exe: "php-fpm8.2", ExePath: "/usr/sbin/php-fpm8.2", EUID: www, RUID: www, Start: time.Unix(old-600, 0)},
			},
			verdict: Stale, reasons: []Reason{ReasonNoApache, ReasonLastPIDDead}, pidState: PIDDead},
		// A daemon's worker named like PHP-FPM, or a copy of it elsewhere,
		// or one whose executable cannot be read, is no PHP-FPM.
		{name: "a worker merely named php-fpm", blocker: 41, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs: []*Process{
				{PID: 41, PPID: 40, PGRP: 40, Exe: "php-fpm-pool", ExePath: "/usr/sbin/php-fpm-pool", EUID: www, RUID: www},
				{PID: 42, PPID: 40, PGRP: 40, Exe: "php-fpm8.2", ExePath: "/tmp/x/php-fpm8.2", EUID: www, RUID: www},
				{PID: 43, PPID: 40, PGRP: 40, Comm: "php-fpm8.2", EUID: www, RUID: www},
			},
			verdict: Unknown, reasons: []Reason{ReasonOwnerAlive}, pidState: PIDDead},
		// An array a www-data process made itself (cuid 33) stays unknown
		// beside any www-data process, php-fpm included.
		{name: "php-fpm pool beside a www-data-made array", blocker: 41, array: func() SemArray { a := array(1, 0, 1, www); a.CUID = www; return a }(),
			detail:  ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs:   []*Process{{PID: 41, PPID: 40, PGRP: 40, Comm: "php-fpm8.2", EUID: www, RUID: www, Start: time.Unix(old-600, 0)}},
			verdict: Unknown, reasons: []Reason{ReasonOwnerAlive}, pidState: PIDDead},
		{name: "a process of another user is no evidence", array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs:   []*Process{{PID: 50, PPID: 1, PGRP: 50, Comm: "cron-job", EUID: 1000, RUID: 1000, Start: time.Unix(old-60, 0)}},
			verdict: Stale, reasons: []Reason{ReasonNoApache, ReasonLastPIDDead}, pidState: PIDDead},
		// A copy of apache2 under another name maps APR: it counts as Apache.
		{name: "renamed apache binary", blocker: 60, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs:   []*Process{{PID: 60, PPID: 1, PGRP: 60, Exe: "httpd-custom", APR: true, Start: now.Add(-time.Hour)}},
			verdict: Unknown, reasons: []Reason{ReasonMasterMayOwn}, pidState: PIDDead},
		// nginx's www-data workers beside the leak: root declared
		// /usr/sbin/nginx a neighbour, so they keep no array root made.
		{name: "declared neighbour beside a root-made array", array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			declared: "/usr/sbin/nginx",
			procs: []*Process{
				{PID: 30, PPID: 1, PGRP: 30, Exe: "nginx", ExePath: "/usr/sbin/nginx", Start: time.Unix(old-600, 0)},
				{PID: 31, PPID: 30, PGRP: 30, Exe: "nginx", ExePath: "/usr/sbin/nginx", EUID: www, RUID: www, Start: time.Unix(old-600, 0)},
			},
			verdict: Stale, reasons: []Reason{ReasonNoApache, ReasonLastPIDDead}, pidState: PIDDead},
		// Undeclared, the same worker keeps it, and is named.
		{name: "undeclared nginx worker keeps a root-made array", blocker: 31, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs: []*Process{
				{PID: 31, PPID: 30, PGRP: 30, Exe: "nginx", ExePath: "/usr/sbin/nginx", EUID: www, RUID: www, Start: time.Unix(old-600, 0)},
			},
			verdict: Unknown, reasons: []Reason{ReasonOwnerAlive}, pidState: PIDDead},
		// An array a www-data program made (cuid 33) stays its creator's,
		// declared neighbour or not.
		{name: "declared neighbour beside a www-data-made array", blocker: 31, declared: "/usr/sbin/nginx",
			array:  func() SemArray { a := array(1, 0, 1, www); a.CUID = www; return a }(),
			detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs: []*Process{
				{PID: 31, PPID: 30, PGRP: 30, Exe: "nginx", ExePath: "/usr/sbin/nginx", EUID: www, RUID: www, Start: time.Unix(old-600, 0)},
			},
			verdict: Unknown, reasons: []Reason{ReasonOwnerAlive}, pidState: PIDDead},
		// Seen without root, a worker's executable is unreadable: it is
		// never taken for the declared neighbour, nor proven another
		// program: the array is not measured.
		{name: "declared neighbour whose executable is unreadable", blocker: 31, declared: "/usr/sbin/nginx", array: array(1, 0, 1, www),
			detail:  ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs:   []*Process{{PID: 31, PPID: 30, PGRP: 30, Comm: "nginx", EUID: www, RUID: www, Start: time.Unix(old-600, 0)}},
			verdict: Unknown, reasons: []Reason{ReasonOwnerUnverified}, pidState: PIDDead},
		// The same with nothing declared: it may be PHP-FPM. Either way it is
		// not measured, never stale.
		{name: "an owner process whose executable is unreadable", blocker: 31, array: array(1, 0, 1, www),
			detail:  ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs:   []*Process{{PID: 31, PPID: 30, PGRP: 30, Comm: "php-fpm8.2", EUID: www, RUID: www, Start: time.Unix(old-600, 0)}},
			verdict: Unknown, reasons: []Reason{ReasonOwnerUnverified}, pidState: PIDDead},
		// The lowest pid of the owner's processes is named, every run.
		{name: "the owner's lowest pid is named", blocker: 52, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs: []*Process{
				{PID: 90, PPID: 1, PGRP: 90, Comm: "queue", ExePath: "/usr/bin/php8.2", EUID: www, RUID: www},
				{PID: 52, PPID: 1, PGRP: 52, Comm: "cron-job", ExePath: "/usr/local/bin/cron-job", EUID: www, RUID: www},
				{PID: 70, PPID: 1, PGRP: 70, Comm: "sleep", ExePath: "/usr/bin/sleep", EUID: www, RUID: www},
			},
			verdict: Unknown, reasons: []Reason{ReasonOwnerAlive}, pidState: PIDDead},
		// A readable process that is neither PHP-FPM nor declared decides
		// before one whose executable cannot be read, whatever their pids.
		{name: "a readable owner process decides before an unreadable one", blocker: 90, array: array(1, 0, 1, www), detail: ptr(detail(array(1, 0, 1, www), 1, 4242)),
			procs: []*Process{
				{PID: 90, PPID: 1, PGRP: 90, Comm: "queue", ExePath: "/usr/bin/php8.2", EUID: www, RUID: www},
				{PID: 52, PPID: 1, PGRP: 52, Comm: "nginx", EUID: www, RUID: www},
			},
			verdict: Unknown, reasons: []Reason{ReasonOwnerAlive}, pidState: PIDDead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			census := Census{Procs: map[int]*Process{}}
			for _, p := range tt.procs {
				cp := *p
				census.Procs[p.PID] = &cp
			}
			census.AssignRoles(pol.ApacheUIDs)
			prober := fakeProber{}
			if tt.detail != nil {
				prober[tt.array.SemID] = *tt.detail
			}
			p := pol
			if tt.declared != "" {
				p.Neighbours = map[string]bool{tt.declared: true}
			}
			got := Classify([]SemArray{tt.array}, census, prober, p, 1)[0]
			if got.Verdict != tt.verdict || got.PIDState != tt.pidState || !cmp.Equal(got.Reasons, tt.reasons) {
				t.Errorf("got %s %v pid %s, want %s %v pid %s", got.Verdict, got.Reasons, got.PIDState, tt.verdict, tt.reasons, tt.pidState)
			}
			blocker := 0
			if got.Blocker != nil {
				blocker = got.Blocker.PID
			}
			if blocker != tt.blocker {
				t.Errorf("kept by pid %d, want %d", blocker, tt.blocker)
			}
		})
	}
}

func TestAssignRoles(t *testing.T) {
	const www = 33
	procs := []*Process{
		{PID: 1, Comm: "init", PGRP: 1},
		{PID: 10, PPID: 1, PGRP: 10, Exe: "apache2"},                        // root master
		{PID: 11, PPID: 10, PGRP: 10, Exe: "apache2", EUID: www},            // its worker
		{PID: 20, PPID: 1, PGRP: 19, Exe: "apache2", EUID: www},             // worker of a dead master 19
		{PID: 30, PPID: 1, PGRP: 29, Comm: "httpd", EUID: 1000},             // not an apache user: no orphan
		{PID: 40, PPID: 41, PGRP: 41, Exe: "httpd", EUID: www},              // started by a live shell 41
		{PID: 41, PPID: 1, PGRP: 41, Comm: "bash", EUID: www},               // that shell
		{PID: 50, PPID: 11, PGRP: 10, Comm: "php-cgi", EUID: www},           // not apache at all
		{PID: 60, PPID: 1, PGRP: 60, Exe: "httpd2-prefork", EUID: www},      // non-root master, group leader
		{PID: 61, PPID: 60, PGRP: 60, Exe: "httpd2-prefork", EUID: www},     // its worker
		{PID: 70, PPID: 1, PGRP: 69, Exe: "apache2", EUID: www, RUID: www},  // non-root foreground master, its group leader gone
		{PID: 71, PPID: 70, PGRP: 69, Exe: "apache2", EUID: www, RUID: www}, // its worker
	}
	c := Census{Procs: map[int]*Process{}}
	for _, p := range procs {
		c.Procs[p.PID] = p
	}
	c.AssignRoles(map[uint32]bool{www: true})
	got := map[int]Role{}
	for pid, p := range c.Procs {
		got[pid] = p.Role
	}
	want := map[int]Role{1: RoleNone, 10: RoleMaster, 11: RoleWorker, 20: RoleOrphan, 30: RoleMaster, 40: RoleOrphan, 41: RoleNone, 50: RoleNone, 60: RoleMaster, 61: RoleWorker, 70: RoleMaster, 71: RoleWorker}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
	// Only an orphan whose group leader is gone may be killed: 40's leader
	// (the shell 41) lives, so it might be a master.
	if !c.Procs[20].CertainOrphan || c.Procs[40].CertainOrphan {
		t.Errorf("certain orphans: 20 %v, 40 %v; want true, false", c.Procs[20].CertainOrphan, c.Procs[40].CertainOrphan)
	}
}

func ptr[T any](v T) *T { return &v }

func TestNewPolicy(t *testing.T) {
	pol, err := NewPolicy([]string{" www-data ", "4242"}, time.Minute)
	if err != nil || !pol.ApacheUIDs[33] || !pol.ApacheUIDs[4242] || pol.MinAge != time.Minute || pol.Users[33] != "www-data" {
		t.Errorf("NewPolicy = %+v, %v", pol, err)
	}
	// The defaults skip what this host lacks; any other name must exist.
	if _, err := NewPolicy(DefaultApacheUsers, DefaultMinAge); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, tt := range []struct {
		users  []string
		minAge time.Duration
		want   string
	}{
		{[]string{"www-dat"}, 0, `unknown user: "www-dat": user: unknown user www-dat`},
		{[]string{" ", ""}, 0, "no user given"},
		{nil, 0, "no user given"},
		{[]string{"www-data"}, -time.Second, "-1s is negative"},
		{[]string{"www-data"}, 9223372036 * time.Second, "2562047h47m16s is above the maximum 8760h0m0s"},
	} {
		if _, err := NewPolicy(tt.users, tt.minAge); err == nil || err.Error() != tt.want {
			t.Errorf("NewPolicy(%q, %s) = %v, want %s", tt.users, tt.minAge, err, tt.want)
		}
	}
}
