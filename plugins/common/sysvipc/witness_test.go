package sysvipc

import (
	"strings"
	"testing"
	"time"
)

// TestWitnessedBesideGroupMember: a recorded start's array once its master
// is gone, judged with what is left in the master's process group. A
// process there whose executable cannot be read (another user's, read
// without root) may be a renamed Apache's orphan: the array is left
// unjudged, so a non-root check never counts stale what root's handler
// keeps. A readable program that is not Apache (a piped logger) does not
// keep it; an Apache process does.
func TestWitnessedBesideGroupMember(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := SemArray{SemID: 5, NSems: 1, UID: 33, CTime: now.Add(-time.Hour).Unix()}
	d := detailOf(a)
	d.Value, d.PID = 1, 4242 // free, last used by a gone process
	master := ProcessID{PID: 100, StartTicks: 77}
	for _, tt := range []struct {
		name   string
		member *Process
		want   Verdict
		reason Reason
	}{
		{"nothing left", nil, Stale, ReasonWitnessedLeak},
		{"a piped logger, readable", &Process{PID: 101, PGRP: 100, EUID: 33, ExePath: "/usr/bin/rotatelogs"}, Stale, ReasonWitnessedLeak},
		{"an Apache worker", &Process{PID: 101, PGRP: 100, EUID: 33, ExePath: "/usr/sbin/apache2", Role: RoleOrphan}, Unknown, ReasonOrphanAlive},
		{"an unreadable executable", &Process{PID: 101, PGRP: 100, EUID: 33, Comm: "httpd-custom"}, Unknown, ReasonOwnerUnverified},
	} {
		census := Census{Procs: map[int]*Process{}}
		if tt.member != nil {
			census.Procs[tt.member.PID] = tt.member
		}
		c := NewJudge(census, Policy{Now: now}).Witnessed(a, d, master)
		if c.Verdict != tt.want || c.Reasons[0] != tt.reason {
			t.Errorf("%s: %s (%v), want %s (%s)", tt.name, c.Verdict, c.Reasons, tt.want, tt.reason)
		}
	}
}

// TestUnseen: what a reader cannot see leaves a verdict unjudged. With
// processes hidden (hidepid), a stale verdict is not proven; with records
// that cannot be read, any verdict a record could turn stale is not
// measured, but not one a process in sight decided (a waiter, a holder, a
// live last user).
func TestUnseen(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := SemArray{SemID: 5, NSems: 1, UID: 33, CTime: now.Add(-time.Hour).Unix()}
	p := Policy{ApacheUIDs: map[uint32]bool{33: true}, MinAge: time.Minute, Now: now}
	probe := func(value, pid int) *semAnswer {
		d := detailOf(a)
		d.Value, d.PID = value, pid
		return &semAnswer{detail: d}
	}
	master := &Process{PID: 10, PGRP: 10, Exe: "apache2", Role: RoleMaster, Start: now.Add(-time.Minute)}
	for _, tt := range []struct {
		name       string
		census     Census
		unreadable bool
		answer     *semAnswer
		want       Reason
	}{
		{"the outage, every process seen", Census{Procs: map[int]*Process{}}, false, probe(1, 4242), ReasonNoApache},
		{"the outage, processes hidden", Census{Procs: map[int]*Process{}, Hidden: true}, false, probe(1, 4242), ReasonProcessesHidden},
		{"a master runs, processes hidden: unknown already", Census{Procs: map[int]*Process{10: master}, Hidden: true}, false, probe(1, 4242), ReasonMasterMayOwn},
		{"a master runs, records unreadable", Census{Procs: map[int]*Process{10: master}}, true, probe(1, 4242), ReasonRecordsUnreadable},
		{"held, records unreadable", Census{Procs: map[int]*Process{10: master}}, true, probe(0, 4242), ReasonHeld},
		{"its last user runs, records unreadable", Census{Procs: map[int]*Process{10: master, 4242: {PID: 4242}}}, true, probe(1, 4242), ReasonLastPIDAlive},
		{"the outage, records unreadable: stale stays stale", Census{Procs: map[int]*Process{}}, true, probe(1, 4242), ReasonNoApache},
	} {
		pol := p
		if tt.unreadable {
			pol.Records = &NamespaceRecords{Unreadable: true}
		}
		if got := newRules(tt.census, pol).classify(a, tt.answer); got.Reasons[0] != tt.want {
			t.Errorf("%s: %s (%v), want %s", tt.name, got.Verdict, got.Reasons, tt.want)
		}
	}
}

// TestParseHidePID: the proc mount's hidepid option, as mountinfo shows
// it, hides other users' processes unless the reader is in its gid.
func TestParseHidePID(t *testing.T) {
	line := func(opts string) string {
		return "22 28 0:20 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc " + opts + "\n"
	}
	for _, tt := range []struct {
		name, mountinfo string
		groups          []int
		want            bool
	}{
		{"no option", line("rw"), nil, false},
		{"invisible", line("rw,hidepid=invisible"), nil, true},
		{"2", line("rw,hidepid=2"), nil, true},
		{"noaccess lists every pid", line("rw,hidepid=noaccess"), nil, false},
		{"invisible, the reader in its gid", line("rw,hidepid=invisible,gid=1001"), []int{1001}, false},
		{"invisible, the reader not in its gid", line("rw,hidepid=invisible,gid=1001"), []int{27}, true},
		{"the last mount wins", line("rw,hidepid=invisible") + line("rw"), nil, false},
		{"another mount point", "22 28 0:20 / /host/proc rw - proc proc rw,hidepid=2\n", nil, false},
	} {
		if got := parseHidePID(strings.NewReader(tt.mountinfo), "/proc", tt.groups); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
