package sysvipc

import (
	"testing"
	"time"
)

// TestClassifyMatures: an array kept for its age alone matures only where
// the same rules would call it stale once older: in the outage, its last
// user gone, every process in sight. A running server's young array, one
// a live process last used, one an owner's process may use, and any while
// procfs hides processes do not.
func TestClassifyMatures(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const www = 33
	young := SemArray{SemID: 1, Perms: 0o600, NSems: 1, UID: www, CTime: now.Unix() - 60}
	detail := func(value, pid int) SemDetail {
		return SemDetail{SemID: 1, UID: www, NSems: 1, CTime: young.CTime, Value: value, PID: pid}
	}
	master := &Process{PID: 100, PPID: 1, PGRP: 100, Exe: "apache2", Start: now.Add(-time.Hour)}
	worker := &Process{PID: 101, PPID: 100, PGRP: 100, Exe: "apache2", EUID: www, RUID: www, Start: now.Add(-time.Hour)}
	pol := Policy{ApacheUIDs: map[uint32]bool{www: true}, MinAge: DefaultMinAge, Now: now}
	for _, tt := range []struct {
		name   string
		detail SemDetail
		procs  []*Process
		hidden bool
		want   bool
	}{
		{name: "the outage, its last user gone", detail: detail(1, 4242), want: true},
		{name: "its last user runs", detail: detail(1, 7), procs: []*Process{{PID: 7, Comm: "php", Start: now.Add(-3 * time.Hour)}}},
		{name: "a running server's, made after its master started", detail: detail(1, 4242), procs: []*Process{
			{PID: 100, PPID: 1, PGRP: 100, Exe: "apache2", Start: now.Add(-2 * time.Minute)},
			{PID: 101, PPID: 100, PGRP: 100, Exe: "apache2", EUID: www, RUID: www, Start: now.Add(-2 * time.Minute)}}},
		{name: "a running master may own it", detail: detail(1, 4242), procs: []*Process{master, worker}},
		{name: "an owner's process may use it", detail: detail(1, 4242), procs: []*Process{{PID: 52, PPID: 1, PGRP: 52, Comm: "cron-job", ExePath: "/usr/local/bin/cron-job", EUID: www, RUID: www}}},
		{name: "procfs hides processes", detail: detail(1, 4242), hidden: true},
		{name: "its last user ran in another PID namespace", detail: detail(1, 0)},
		{name: "held", detail: detail(0, 4242)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			census := Census{Procs: map[int]*Process{}, Hidden: tt.hidden}
			for _, p := range tt.procs {
				cp := *p
				census.Procs[p.PID] = &cp
			}
			census.AssignRoles(pol.ApacheUIDs)
			got := Classify([]SemArray{young}, census, fakeProber{1: tt.detail}, pol, 1)[0]
			if got.Matures != tt.want {
				t.Errorf("matures %v, want %v (%s %v)", got.Matures, tt.want, got.Verdict, got.Reasons)
			}
			if got.Verdict == Stale {
				t.Errorf("a young array judged stale: %v", got.Reasons)
			}
			if tally := tallyOf(got); (tally.Maturing.Arrays == 1) != tt.want {
				t.Errorf("the tally's maturing %+v, want matures %v", tally.Maturing, tt.want)
			}
		})
	}
}

// tallyOf tallies classifications as the faces do.
func tallyOf(cs ...Classification) Tally {
	var tl tallying
	for _, c := range cs {
		tl.add(c)
	}
	return tl.done()
}

func TestMaturingLine(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var m Maturing
	if line := m.Line(5 * time.Minute); line != "" {
		t.Errorf("no arrays: %q, want none", line)
	}
	m.Add(at("2026-12-06 07:00:00"))
	if got, want := m.Line(5*time.Minute), "1 array kept only for its age would be stale: changed within min_age 5m0s, judged from 2026-12-06 07:05:00 UTC if unchanged"; got != want {
		t.Errorf("one array:\n got %q\nwant %q", got, want)
	}
	// Arrays changed at once: one time.
	m.Add(at("2026-12-06 07:00:00"))
	if got, want := m.Line(5*time.Minute), "2 arrays kept only for their age would be stale: changed within min_age 5m0s, judged from 2026-12-06 07:05:00 UTC if unchanged"; got != want {
		t.Errorf("two arrays of one time:\n got %q\nwant %q", got, want)
	}
	// The earliest and the latest last change give the first and the last
	// time (a never-locked mutex last changed at its server's start, the
	// accept mutex at its crash); the parts of a tally merge.
	var other Maturing
	other.Add(at("2026-12-06 07:02:00"))
	other.Add(at("2026-12-06 06:58:30"))
	m.merge(other)
	if got, want := m.Line(5*time.Minute), "4 arrays kept only for their age would be stale: changed within min_age 5m0s, the first judged from 2026-12-06 07:03:30 UTC, the last from 2026-12-06 07:07:00 UTC if unchanged"; got != want {
		t.Errorf("four arrays:\n got %q\nwant %q", got, want)
	}
	// A fraction of a second in min_age rounds up, as the plugin receives
	// it: never a time at which the array is still young.
	if got, want := JudgedFrom(m.First, 4*time.Minute+30*time.Second+500*time.Millisecond), at("2026-12-06 07:03:01"); !got.Equal(want) {
		t.Errorf("judged from %s with min_age 4m30.5s, want %s", got, want)
	}
}

// TestClassifyMaturesAfterBackwardClockStep: after the wall clock
// stepped back, a leak's last change lies ahead of the reader's clock,
// its age negative. It still matures, judged from that change plus the
// minimum age, not from now.
func TestClassifyMaturesAfterBackwardClockStep(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const www = 33
	ahead := now.Unix() + 3600
	a := SemArray{SemID: 1, Perms: 0o600, NSems: 1, UID: www, CTime: ahead}
	d := SemDetail{SemID: 1, UID: www, NSems: 1, CTime: ahead, OTime: ahead, Value: 1, PID: 4242}
	pol := Policy{ApacheUIDs: map[uint32]bool{www: true}, MinAge: DefaultMinAge, Now: now}
	c := Classify([]SemArray{a}, Census{Procs: map[int]*Process{}}, fakeProber{1: d}, pol, 1)[0]
	if c.Verdict != Live || c.Reasons[0] != ReasonTooYoung || !c.Matures {
		t.Fatalf("a leak changed an hour ahead of the clock: %s %v, matures %v", c.Verdict, c.Reasons, c.Matures)
	}
	m := tallyOf(c).Maturing
	if got, want := JudgedFrom(m.First, DefaultMinAge), time.Unix(ahead, 0).Add(DefaultMinAge); m.Arrays != 1 || !got.Equal(want) {
		t.Errorf("maturing %+v judged from %s, want 1 from %s", m, got, want)
	}
}

// TestMaturingAdviceWords: one array is "it", and with two times the
// advice is to act at the last, when all of them can be judged.
func TestMaturingAdviceWords(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	for _, tt := range []struct {
		changes    []time.Time
		them, when string
	}{
		{[]time.Time{t0}, "it", "then"},
		{[]time.Time{t0, t0}, "them", "then"},
		{[]time.Time{t0, t0.Add(6 * time.Second)}, "them", "at the last time"},
	} {
		var m Maturing
		for _, c := range tt.changes {
			m.Add(c)
		}
		if m.Them() != tt.them || m.LastTime() != tt.when {
			t.Errorf("%d changes: %q, %q; want %q, %q", len(tt.changes), m.Them(), m.LastTime(), tt.them, tt.when)
		}
	}
}
