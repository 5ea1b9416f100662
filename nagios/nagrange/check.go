package nagrange

import (
	"strconv"
	"strings"
)

// Alert reports whether v should raise an alert, with the semantics of
// check_range: outside the range alerts, or inside it for '@' ranges, and
// both ends are inclusive. A NaN v alerts unless both ends are infinite,
// because every comparison with NaN is false, exactly as in C.
//
// Percent endpoints are compared as the bare numbers; callers must Resolve
// a range that has them first. The zero Range never alerts, like a
// threshold that was not given.
func (r Range) Alert(v float64) bool {
	if r.IsZero() {
		return false
	}
	var in bool
	switch {
	case !r.StartInfinite && !r.EndInfinite:
		in = r.Start <= v && v <= r.End
	case !r.StartInfinite:
		in = r.Start <= v
	case !r.EndInfinite:
		in = v <= r.End
	default:
		in = true
	}
	return in == r.Inside
}

// Resolve turns percent endpoints into absolute values, value*limit/100,
// and clears the percent flags. Multiplying first means a single rounding
// whenever value*limit is exact, so 80% of 128 equals the literal 102.4.
//
// Parse could not order a range mixing percent and absolute endpoints, so
// the result may have Start > End; such a range alerts for every value,
// as the same struct would in C. A negative limit can do the same.
func (r Range) Resolve(limit float64) Range {
	if r.StartPercent {
		r.Start = r.Start * limit / 100
		r.StartPercent = false
	}
	if r.EndPercent {
		r.End = r.End * limit / 100
		r.EndPercent = false
	}
	return r
}

// String formats the range for perfdata: "10", "10:", "~:10", "@10:20",
// "5:10", and "" for the zero Range. A start of 0 is left out, as
// Monitoring::Plugin::Range does, because "10" already means 0:10.
// Unresolved percent endpoints keep their '%' so that the
// result still parses to the same Range; perfdata wants resolved ranges.
func (r Range) String() string {
	if r.IsZero() {
		return ""
	}
	var b strings.Builder
	if r.Inside {
		b.WriteByte('@')
	}
	switch {
	case r.StartInfinite:
		b.WriteString("~:")
	case r.EndInfinite || r.Start != 0 || r.StartPercent:
		// "0:" must keep its start: a lone ":" does not parse.
		b.WriteString(formatEndpoint(r.Start, r.StartPercent))
		b.WriteByte(':')
	}
	if !r.EndInfinite {
		b.WriteString(formatEndpoint(r.End, r.EndPercent))
	}
	return b.String()
}

// IsZero reports whether r is the zero Range, meaning no range was given.
func (r Range) IsZero() bool { return r == Range{} }

func formatEndpoint(v float64, percent bool) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if percent {
		s += "%"
	}
	return s
}
