package leaks

import (
	"slices"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// TestNotOwn: the after-start's attribution, one case per rule: which
// array that appeared during a unit's start is the start's own.
func TestNotOwn(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	master := &sysvipc.Process{PID: 100, PGRP: 100, Role: sysvipc.RoleMaster, ExePath: "/usr/sbin/apache2", Start: start}
	worker := &sysvipc.Process{PID: 101, PGRP: 100, PPID: 100, Role: sysvipc.RoleWorker, ExePath: "/usr/sbin/apache2", Start: start.Add(time.Second)}
	logger := &sysvipc.Process{PID: 102, PGRP: 100, PPID: 100, ExePath: "/usr/bin/rotatelogs", Start: start.Add(time.Second)}
	other := &sysvipc.Process{PID: 200, PGRP: 200, ExePath: "/usr/sbin/cron", Start: start.Add(-time.Hour)}
	at := func(touched time.Time, cuid uint32) sysvipc.SemArray {
		return sysvipc.SemArray{SemID: 7, NSems: 1, UID: 33, CUID: cuid, CTime: touched.Unix(), OTime: touched.Unix()}
	}
	for _, tt := range []struct {
		name string
		x    attribution
		want string
	}{
		{"the master touched it after its start", attribution{array: at(start.Add(time.Second), 0), lastPID: 100, last: master, master: master, inTree: true}, ""},
		{"a worker touched it well after its start", attribution{array: at(start.Add(10*time.Second), 0), lastPID: 101, last: worker, master: master, inTree: true}, ""},
		{"a worker's touch within the slack of its start, window clear", attribution{array: at(worker.Start, 0), lastPID: 101, last: worker, master: master, inTree: true, window: true}, ""},
		{"a worker's touch within the slack of its start, window not clear (its pid may have been another's)", attribution{array: at(worker.Start, 0), lastPID: 101, last: worker, master: master, inTree: true},
			"last used by a process below the master that is not the server, or not surely after it started"},
		{"a worker's pid, touched before it started", attribution{array: at(start.Add(-time.Minute), 0), lastPID: 101, last: worker, master: master, inTree: true, window: true},
			"last used by a process below the master that is not the server, or not surely after it started"},
		{"a piped logger below the master", attribution{array: at(start.Add(10*time.Second), 0), lastPID: 102, last: logger, master: master, inTree: true, window: true},
			"last used by a process below the master that is not the server, or not surely after it started"},
		{"the start-up process, gone, made it before the master, window clear", attribution{array: at(start.Add(-30*time.Second), 0), lastPID: 99, master: master, window: true}, ""},
		{"last user gone, window not clear", attribution{array: at(start.Add(-30*time.Second), 0), lastPID: 99, master: master, windowWhy: "a neighbour reloaded in the window"},
			"last pid gone and a neighbour reloaded in the window"},
		{"last user gone, made by a www-data program", attribution{array: at(start.Add(-30*time.Second), 33), lastPID: 99, master: master, window: true}, "last pid gone and made by uid 33"},
		{"last user gone, made after the master started", attribution{array: at(start.Add(time.Minute), 0), lastPID: 99, master: master, window: true}, "last pid gone and made after the master started"},
		{"another live process outside the start", attribution{array: at(start.Add(time.Second), 0), lastPID: 200, last: other, master: master, window: true}, "last used by another process"},
		{"never operated on (GETPID 0)", attribution{array: at(start.Add(time.Second), 0), master: master, window: true}, "last used by another process"},
	} {
		if got := notOwn(tt.x); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestKillableOrphans: which orphans are offered for killing, one case
// per rule.
func TestKillableOrphans(t *testing.T) {
	orphan := func(pid, pgrp int, shared ...uint64) *sysvipc.Process {
		return &sysvipc.Process{PID: pid, PGRP: pgrp, EUID: 33, Exe: "apache2", APR: true, Role: sysvipc.RoleOrphan, CertainOrphan: true, Shared: shared}
	}
	foreground := orphan(30, 9, 500)
	foreground.Foreground = true
	master := &sysvipc.Process{PID: 1, PGRP: 1, Exe: "apache2", APR: true, Role: sysvipc.RoleMaster}
	census := func(ps ...*sysvipc.Process) sysvipc.Census {
		c := sysvipc.Census{Procs: map[int]*sysvipc.Process{}}
		for _, p := range ps {
			c.Procs[p.PID] = p
		}
		return c
	}
	pids := func(ps []*sysvipc.Process) []int {
		var out []int
		for _, p := range ps {
			out = append(out, p.PID)
		}
		return out
	}
	for _, tt := range []struct {
		name   string
		census sysvipc.Census
		own    map[int][]uint64
		want   []int
	}{
		{"two forks of one dead master, no master runs", census(orphan(10, 9, 500), orphan(11, 9, 500)), nil, []int{10, 11}},
		{"a lone orphan, no record", census(orphan(10, 9, 500)), nil, nil},
		{"two of one group that share no mapping", census(orphan(10, 9, 500), orphan(11, 9, 501)), nil, nil},
		{"two sharing a mapping in different groups", census(orphan(10, 9, 500), orphan(11, 8, 500)), nil, nil},
		{"a master runs", census(master, orphan(10, 9, 500), orphan(11, 9, 500)), nil, nil},
		{"a recorded dead master's group while another master runs", census(master, orphan(10, 9, 500)), map[int][]uint64{9: {500}}, []int{10}},
		{"a recorded group, the orphan sharing nothing with its master", census(master, orphan(10, 9, 501)), map[int][]uint64{9: {500}}, nil},
		{"started in the foreground: never, nor its group-mate alone", census(foreground, orphan(31, 9, 500)), nil, nil},
	} {
		got := pids(killableOrphans(tt.census, tt.own))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestWindowNoteControlCharacters: a process that started in the unit's
// start window is named on the hook's one line by its command name, which
// is its own to choose: a newline or an escape sequence in it prints as
// '?' and cannot forge a journal line.
func TestWindowNoteControlCharacters(t *testing.T) {
	before := &sysvipc.StartSnapshot{Ticks: 100}
	census := sysvipc.Census{Procs: map[int]*sysvipc.Process{
		4242: {PID: 4242, PPID: 1, StartTicks: 200, Comm: "x\nFORGED \x1b[31m"},
	}}
	clear, why := windowClear(before, nil, census, map[int]bool{})
	if clear || why != "pid 4242 (x?FORGED ?[31m) started meanwhile" {
		t.Errorf("window clear %v, %q", clear, why)
	}
}
