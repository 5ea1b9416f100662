package sysvipc

import (
	"testing"
	"time"
)

func TestAwaitsAge(t *testing.T) {
	for _, tt := range []struct {
		v     Verdict
		first Reason
		pid   PIDState
		want  bool
	}{
		{Live, ReasonTooYoung, PIDDead, true},
		{Live, ReasonTooYoung, PIDAlive, false},   // its last user runs: in use, perhaps
		{Live, ReasonTooYoung, PIDUnknown, false}, // never locked, or locked from another PID namespace
		{Live, ReasonLastPIDAlive, PIDDead, false},
		{Stale, ReasonNoApache, PIDDead, false},
		{Unknown, ReasonTooYoung, PIDDead, false},
	} {
		if got := AwaitsAge(tt.v, tt.first, tt.pid); got != tt.want {
			t.Errorf("AwaitsAge(%s, %s, %s) = %v, want %v", tt.v, tt.first, tt.pid, got, tt.want)
		}
	}
}

func TestMaturingLine(t *testing.T) {
	now := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	var m Maturing
	if line := m.Line(now, 5*time.Minute); line != "" {
		t.Errorf("no arrays: %q, want none", line)
	}
	m.Add(90 * time.Second)
	if got, want := m.Line(now, 5*time.Minute), "1 array whose last user is gone changed within min_age 5m0s: judged from 2026-12-06 07:03:30 UTC if unchanged"; got != want {
		t.Errorf("one array:\n got %q\nwant %q", got, want)
	}
	// The oldest decides when the first can be judged; the parts of a
	// tally merge.
	var other Maturing
	other.Add(4 * time.Minute)
	other.Add(time.Second)
	m.merge(other)
	if got, want := m.Line(now, 5*time.Minute), "3 arrays whose last user is gone changed within min_age 5m0s: judged from 2026-12-06 07:01:00 UTC if unchanged"; got != want {
		t.Errorf("three arrays:\n got %q\nwant %q", got, want)
	}
}

// TestTallyCountsMaturing: the tally counts the young arrays whose last
// user is gone, and not a young array whose last user runs.
func TestTallyCountsMaturing(t *testing.T) {
	var tl tallying
	tl.add(Classification{Verdict: Live, Reasons: []Reason{ReasonTooYoung}, PIDState: PIDDead, Age: 30 * time.Second})
	tl.add(Classification{Verdict: Live, Reasons: []Reason{ReasonTooYoung}, PIDState: PIDAlive, Age: 4 * time.Minute})
	tl.add(Classification{Verdict: Live, Reasons: []Reason{ReasonTooYoung}, PIDState: PIDDead, Age: 2 * time.Minute})
	tl.add(Classification{Verdict: Stale, Reasons: []Reason{ReasonNoApache, ReasonLastPIDDead}, PIDState: PIDDead, Age: time.Hour})
	if got, want := tl.done().Maturing, (Maturing{Arrays: 2, Oldest: 2 * time.Minute}); got != want {
		t.Errorf("maturing %+v, want %+v", got, want)
	}
}
