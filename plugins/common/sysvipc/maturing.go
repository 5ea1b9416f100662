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
}

// Add counts one array last changed at lastOp.
func (m *Maturing) Add(lastOp time.Time) {
	if m.Arrays == 0 || lastOp.Before(m.First) {
		m.First = lastOp
	}
	m.Arrays++
}

func (m *Maturing) merge(o Maturing) {
	if o.Arrays > 0 && (m.Arrays == 0 || o.First.Before(m.First)) {
		m.First = o.First
	}
	m.Arrays += o.Arrays
}

// JudgedFrom is when the first of them is older than minAge, if it stays
// unchanged: its last change (whole seconds) plus minAge rounded up to a
// second, as the plugin receives it.
func (m Maturing) JudgedFrom(minAge time.Duration) time.Time {
	if whole := minAge.Truncate(time.Second); whole != minAge {
		minAge = whole + time.Second
	}
	return m.First.Add(minAge)
}

// Line says what a face prints of them, "" for none: how many, the
// minimum age, and from when the first can be judged.
func (m Maturing) Line(minAge time.Duration) string {
	if m.Arrays == 0 {
		return ""
	}
	noun := "arrays"
	if m.Arrays == 1 {
		noun = "array"
	}
	return fmt.Sprintf("%d %s kept only for their age would be stale: changed within min_age %s, the first judged from %s if unchanged",
		m.Arrays, noun, minAge, m.JudgedFrom(minAge).UTC().Format("2006-01-02 15:04:05 MST"))
}
