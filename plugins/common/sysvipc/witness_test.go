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
// it for the mount of the FS's device, hides other users' processes:
// invisible unless the reader is in its gid, ptraceable whatever its
// groups.
func TestParseHidePID(t *testing.T) {
	line := func(dev, opts string) string {
		return "22 28 " + dev + " / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc " + opts + "\n"
	}
	for _, tt := range []struct {
		name, mountinfo string
		groups          []int
		hidden, found   bool
	}{
		{"no option", line("0:20", "rw"), nil, false, true},
		{"invisible", line("0:20", "rw,hidepid=invisible"), nil, true, true},
		{"2", line("0:20", "rw,hidepid=2"), nil, true, true},
		{"noaccess lists every pid", line("0:20", "rw,hidepid=noaccess"), nil, false, true},
		{"invisible, the reader in its gid", line("0:20", "rw,hidepid=invisible,gid=1001"), []int{1001}, false, true},
		{"invisible, the reader not in its gid", line("0:20", "rw,hidepid=invisible,gid=1001"), []int{27}, true, true},
		{"ptraceable", line("0:20", "rw,hidepid=ptraceable"), nil, true, true},
		{"ptraceable ignores gid", line("0:20", "rw,gid=105,hidepid=ptraceable"), []int{105}, true, true},
		{"4", line("0:20", "rw,hidepid=4"), nil, true, true},
		{"the mount of the device, not of the path", line("0:21", "rw,hidepid=2") + line("0:20", "rw"), nil, false, true},
		{"another device only", line("0:21", "rw,hidepid=2"), nil, false, false},
	} {
		hidden, found := parseHidePID(strings.NewReader(tt.mountinfo), "0:20", tt.groups)
		if hidden != tt.hidden || found != tt.found {
			t.Errorf("%s: hidden %v found %v, want %v and %v", tt.name, hidden, found, tt.hidden, tt.found)
		}
	}
}
