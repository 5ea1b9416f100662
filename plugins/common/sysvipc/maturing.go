package sysvipc

import (
	"fmt"
	"time"
)

// AwaitsAge says whether an array was kept for its age alone while its
// last user is gone: a leak, perhaps, that the rules judge once it is
// older than the minimum age. A monitoring engine calls its event
// handler only when the check's state changes, so a handler that kept
// such arrays is not called again for them; the faces say when to.
func AwaitsAge(v Verdict, first Reason, pid PIDState) bool {
	return v == Live && first == ReasonTooYoung && pid == PIDDead
}

// Maturing counts the arrays AwaitsAge keeps, and the age of the oldest:
// the first the rules can judge.
type Maturing struct {
	Arrays int
	Oldest time.Duration
}

// Add counts one array of that age.
func (m *Maturing) Add(age time.Duration) {
	m.Arrays++
	m.Oldest = max(m.Oldest, age)
}

func (m *Maturing) merge(o Maturing) {
	m.Arrays += o.Arrays
	m.Oldest = max(m.Oldest, o.Oldest)
}

// JudgedFrom is when the oldest of them is older than minAge, if it
// stays unchanged.
func (m Maturing) JudgedFrom(now time.Time, minAge time.Duration) time.Time {
	return now.Add(minAge - m.Oldest)
}

// Line says what a face prints of them, "" for none: how many, the
// minimum age, and from when the first can be judged.
func (m Maturing) Line(now time.Time, minAge time.Duration) string {
	if m.Arrays == 0 {
		return ""
	}
	noun := "arrays"
	if m.Arrays == 1 {
		noun = "array"
	}
	return fmt.Sprintf("%d %s whose last user is gone changed within min_age %s: judged from %s if unchanged",
		m.Arrays, noun, minAge, m.JudgedFrom(now, minAge).UTC().Format("2006-01-02 15:04:05 MST"))
}
