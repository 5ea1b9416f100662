package sysvipc

import (
	"fmt"
	"time"
)

// Maturing counts the arrays kept for their age alone that the rules
// would call stale once older (Classification.Matures), and the earliest
// last change among them: the first the rules can judge. A monitoring
// engine does not call its event handler again while a check stays in a
// hard CRITICAL state, so a handler that kept such arrays says when to
// run it again.
type Maturing struct {
	Arrays int
	First  time.Time // the earliest last operation or change
	Last   time.Time // the latest
}

// Add counts one array last changed at lastOp.
func (m *Maturing) Add(lastOp time.Time) {
	m.merge(Maturing{Arrays: 1, First: lastOp, Last: lastOp})
}

func (m *Maturing) merge(o Maturing) {
	if o.Arrays == 0 {
		return
	}
	if m.Arrays == 0 || o.First.Before(m.First) {
		m.First = o.First
	}
	if m.Arrays == 0 || o.Last.After(m.Last) {
		m.Last = o.Last
	}
	m.Arrays += o.Arrays
}

// JudgedFrom is when an array last changed at lastOp is older than
// minAge, if it stays unchanged: lastOp (whole seconds) plus minAge
// rounded up to a second, as the plugin receives it.
func JudgedFrom(lastOp time.Time, minAge time.Duration) time.Time {
	if whole := minAge.Truncate(time.Second); whole != minAge {
		minAge = whole + time.Second
	}
	return lastOp.Add(minAge)
}

// Them is the pronoun for the arrays counted: "it" for one.
func (m Maturing) Them() string {
	if m.Arrays == 1 {
		return "it"
	}
	return "them"
}

// LastTime says which time to act at: "then" where the line gives one,
// "at the last time" where it gives two.
func (m Maturing) LastTime() string {
	if m.Arrays > 1 && !m.First.Equal(m.Last) {
		return "at the last time"
	}
	return "then"
}

// Line says what a face prints of them, "" for none: how many, the
// minimum age, and from when the first and the last can be judged.
func (m Maturing) Line(minAge time.Duration) string {
	if m.Arrays == 0 {
		return ""
	}
	const layout = "2006-01-02 15:04:05 MST"
	first, last := JudgedFrom(m.First, minAge).UTC().Format(layout), JudgedFrom(m.Last, minAge).UTC().Format(layout)
	if m.Arrays == 1 {
		return fmt.Sprintf("1 array kept only for its age would be stale: changed within min_age %s, judged from %s if unchanged", minAge, first)
	}
	when := "judged from " + first
	if last != first {
		when = fmt.Sprintf("the first judged from %s, the last from %s", first, last)
	}
	return fmt.Sprintf("%d arrays kept only for their age would be stale: changed within min_age %s, %s if unchanged", m.Arrays, minAge, when)
}
