// Package nagrange implements monitoring-plugins threshold ranges, as parsed
// by parse_range_string and evaluated by check_range in monitoring-plugins'
// lib/utils_base.c, so that thresholds written for the C plugins mean the
// same thing here.
//
// The syntax is [@][start:][end]: a bare "end" means 0..end, "start:" leaves
// the end open, "~" as start means minus infinity, both ends are inclusive,
// and a leading '@' alerts when the value is inside the range instead of
// outside it.
//
// One extension: any endpoint may end in '%', meaning percent of a resource
// limit that is only known later (see [Range.Resolve]). The C code silently
// drops the '%' because strtod stops there; resolving against a limit of 100
// gives the same numbers the C code would use.
//
// Parse is deliberately stricter than the C code: strtod accepts a numeric
// prefix and ignores the rest, so "10x" means 10, "abc" means 0 and "1:2:3"
// means 1:2. Those typos are errors here.
package nagrange

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrRangeFormat is wrapped by every Parse error. The text matches the
// message the C plugins die with ("Range format incorrect").
var ErrRangeFormat = errors.New("range format incorrect")

// Range is a parsed threshold range. The zero Range means no range was
// given: it never alerts and prints as "".
type Range struct {
	Start, End                 float64
	StartInfinite, EndInfinite bool // "~:" start, or no end
	Inside                     bool // '@': alert when inside
	StartPercent, EndPercent   bool // endpoint was written with %

	// raw is the text given to Parse. It keeps a parsed "0" (0..0, which
	// has all-zero fields) distinct from the zero Range.
	raw string
}

// Parse parses a monitoring-plugins range such as "10", "10:", "~:10",
// "@10:20" or "80%". Errors wrap ErrRangeFormat and say what is wrong.
func Parse(s string) (Range, error) {
	fail := func(why string) (Range, error) {
		return Range{}, fmt.Errorf("%w: %q: %s", ErrRangeFormat, s, why)
	}
	if s == "" {
		// C parses "" as 0:, which is never what the user meant.
		return fail("empty range")
	}

	r := Range{raw: s, EndInfinite: true}
	body := s
	if body[0] == '@' {
		r.Inside = true
		body = body[1:]
		if body == "" {
			return fail("nothing after '@'")
		}
	}

	startText, endText, hasColon := strings.Cut(body, ":")
	if !hasColon {
		startText, endText = "", body
	}
	if strings.Contains(endText, ":") {
		// C would read "1:2:3" as 1:2 and drop the rest.
		return fail("more than one ':'")
	}
	if hasColon && startText == "" && endText == "" {
		return fail("neither start nor end around ':'")
	}

	if hasColon {
		switch {
		case startText == "~":
			r.StartInfinite = true
		case startText == "":
			// C runs strtod on "", giving 0; test_utils.c relies on
			// ":5.75" meaning 0:5.75.
		case strings.HasPrefix(startText, "~"):
			// C only looks at the first character and ignores the rest.
			return fail(fmt.Sprintf("start %q: '~' must stand alone", startText))
		default:
			v, pct, why := parseEndpoint(startText)
			if why != "" {
				return fail(fmt.Sprintf("start %q%s", startText, why))
			}
			r.Start, r.StartPercent = v, pct
		}
	}

	if endText != "" {
		if strings.Contains(endText, "~") {
			return fail(fmt.Sprintf("end %q: '~' is only allowed as start", endText))
		}
		v, pct, why := parseEndpoint(endText)
		if why != "" {
			return fail(fmt.Sprintf("end %q%s", endText, why))
		}
		r.End, r.EndPercent, r.EndInfinite = v, pct, false
	}

	// Same rule as parse_range_string: with both ends finite, start must
	// not exceed end. A percent and an absolute endpoint cannot be
	// compared before the limit is known, so mixed ranges are let through.
	if !r.StartInfinite && !r.EndInfinite && r.StartPercent == r.EndPercent && r.Start > r.End {
		if !hasColon {
			return fail(fmt.Sprintf("end %s is below the implicit start 0", formatEndpoint(r.End, r.EndPercent)))
		}
		return fail(fmt.Sprintf("start %s is greater than end %s",
			formatEndpoint(r.Start, r.StartPercent), formatEndpoint(r.End, r.EndPercent)))
	}
	return r, nil
}

// parseEndpoint parses one finite endpoint with an optional '%' suffix. why
// is empty on success and otherwise completes a message about the endpoint,
// starting with ": " or " ".
func parseEndpoint(text string) (v float64, percent bool, why string) {
	num, percent := strings.CutSuffix(text, "%")
	switch {
	case num == "" && percent:
		return 0, false, ": no number before '%'"
	case strings.Contains(num, "%"):
		return 0, false, ": '%' may appear only once, at the end"
	case isNonFiniteWord(num):
		// strconv.ParseFloat would accept these; "~" and an empty end are
		// the range syntax for infinity, and NaN never compares.
		return 0, false, ": infinity and NaN are not allowed, use '~' for no start or leave the end empty"
	case !isDecimal(num):
		return 0, false, " is not a number"
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		// isDecimal already ruled out syntax errors; this is overflow.
		return 0, false, " is out of range for float64"
	}
	if percent && v < 0 {
		return 0, false, ": negative percent"
	}
	return v, percent, ""
}

// isNonFiniteWord reports whether s spells infinity or NaN the way
// strconv.ParseFloat (and strtod) would accept.
func isNonFiniteWord(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return strings.EqualFold(s, "inf") || strings.EqualFold(s, "infinity") || strings.EqualFold(s, "nan")
}

// isDecimal reports whether s is a plain decimal number:
// [+-] digits [. digits] [e [+-] digits], with digits on at least one side
// of the point. It exists because strconv.ParseFloat also accepts hex,
// underscores and infinity words, none of which a range should contain.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
