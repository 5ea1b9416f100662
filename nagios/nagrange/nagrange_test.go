package nagrange

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Nagios plugin exit codes, as returned by get_status.
const (
	stateOK       = 0
	stateWarning  = 1
	stateCritical = 2
	stateUnknown  = 3
)

// status mirrors get_status in utils_base.c: critical is checked first, and
// an absent (zero) range never alerts.
func status(warn, crit Range, v float64) int {
	return int(Status(v, warn, crit))
}

type alertCheck struct {
	v     float64
	alert bool
}

// TestParseTestUtils ports the range cases of monitoring-plugins'
// lib/tests/test_utils.c. Case names follow the ok() messages there.
func TestParseTestUtils(t *testing.T) {
	big := 12345678901234567890.0 // atof("12345678901234567890") in the C test

	tests := []struct {
		name   string
		in     string
		want   Range
		checks []alertCheck
	}{
		{
			name: "'6' is valid range",
			in:   "6",
			want: Range{Start: 0, End: 6},
		},
		{
			// C: "'1:12%%' is valid - percentages are ignored". The C
			// string is "1:12%%" verbatim; strtod stops at the first '%'.
			// Here a single '%' is meaningful and "%%" is an error (see
			// TestParseErrors), so the case is ported with one '%'.
			name: "'1:12%' is valid - end is a percentage",
			in:   "1:12%",
			want: Range{Start: 1, End: 12, EndPercent: true},
		},
		{
			name: "'-7:23' is valid range",
			in:   "-7:23",
			want: Range{Start: -7, End: 23},
		},
		{
			name: "':5.75' is valid range",
			in:   ":5.75",
			want: Range{Start: 0, End: 5.75},
		},
		{
			name: "'~:-95.99' is valid range",
			in:   "~:-95.99",
			want: Range{StartInfinite: true, End: -95.99},
		},
		{
			name: "'12345678901234567890:' is valid range",
			in:   "12345678901234567890:",
			want: Range{Start: big, EndInfinite: true},
			checks: []alertCheck{
				{big / 1.1, true},
				{big, false},
				{big * 2, false},
			},
		},
		{
			name: "'~:0' is valid range",
			in:   "~:0",
			want: Range{StartInfinite: true, End: 0},
			checks: []alertCheck{
				{0.5, true},
				{-10, false},
				{0, false},
			},
		},
		{
			name: "'@0:657.8210567' is a valid range",
			in:   "@0:657.8210567",
			want: Range{Start: 0, End: 657.8210567, Inside: true},
			checks: []alertCheck{
				{32.88, true},
				{-2, false},
				{657.8210567, true},
				{0, true},
			},
		},
		{
			name: "'1:1' is a valid range",
			in:   "1:1",
			want: Range{Start: 1, End: 1},
			checks: []alertCheck{
				{0.5, true},
				{1, false},
				{5.2, true},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			want := tc.want
			want.raw = tc.in
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(Range{})); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
			for _, c := range tc.checks {
				if a := got.Alert(c.v); a != c.alert {
					t.Errorf("Parse(%q).Alert(%v) = %v, want %v", tc.in, c.v, a, c.alert)
				}
			}
		})
	}

	// "'2:1' rejected"
	if _, err := Parse("2:1"); !errors.Is(err, ErrRangeFormat) {
		t.Errorf("Parse(%q) error = %v, want %v", "2:1", err, ErrRangeFormat)
	}
}

// TestThresholdsTestUtils ports the _set_thresholds and get_status cases of
// test_utils.c. An empty string stands for the C NULL (threshold not set).
func TestThresholdsTestUtils(t *testing.T) {
	tests := []struct {
		name       string
		warn, crit string
		wantWarn   Range
		wantCrit   Range
		checks     map[float64]int
	}{
		{
			name: "Thresholds (NULL, NULL) set",
		},
		{
			name:     "Thresholds (NULL, '80') set",
			crit:     "80",
			wantCrit: Range{End: 80},
		},
		{
			name:     "Thresholds ('5:33', NULL) set",
			warn:     "5:33",
			wantWarn: Range{Start: 5, End: 33},
		},
		{
			name:     "Thresholds ('30', '60') set",
			warn:     "30",
			crit:     "60",
			wantWarn: Range{End: 30},
			wantCrit: Range{End: 60},
			checks: map[float64]int{
				15.3:    stateOK,
				30.0001: stateWarning,
				69:      stateCritical,
			},
		},
	}
	parse := func(t *testing.T, s string) Range {
		t.Helper()
		if s == "" {
			return Range{}
		}
		r, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		return r
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			warn, crit := parse(t, tc.warn), parse(t, tc.crit)
			ignoreRaw := cmpopts.IgnoreUnexported(Range{})
			if diff := cmp.Diff(tc.wantWarn, warn, ignoreRaw); diff != "" {
				t.Errorf("warning mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCrit, crit, ignoreRaw); diff != "" {
				t.Errorf("critical mismatch (-want +got):\n%s", diff)
			}
			if warn.IsZero() != (tc.warn == "") || crit.IsZero() != (tc.crit == "") {
				t.Errorf("IsZero: warning %v, critical %v", warn.IsZero(), crit.IsZero())
			}
			for v, want := range tc.checks {
				if got := status(warn, crit, v); got != want {
					t.Errorf("status(%v) = %d, want %d", v, got, want)
				}
			}
		})
	}
}

// TestParseErrors covers inputs rejected by parse_range_string and the
// deliberate divergences where strtod would have accepted a typo.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", `range format incorrect: "": empty range`},
		{"at alone", "@", `range format incorrect: "@": nothing after '@'`},
		{"word", "abc", `range format incorrect: "abc": end "abc" is not a number`},
		{"two colons", "1:2:3", `range format incorrect: "1:2:3": more than one ':'`},
		{"trailing garbage", "10x", `range format incorrect: "10x": end "10x" is not a number`},
		{"start garbage", "5y:10", `range format incorrect: "5y:10": start "5y" is not a number`},
		{"percent alone", "%", `range format incorrect: "%": end "%": no number before '%'`},
		{"percent start alone", "%:10", `range format incorrect: "%:10": start "%": no number before '%'`},
		{"double percent from test_utils", "1:12%%", `range format incorrect: "1:12%%": end "12%%": '%' may appear only once, at the end`},
		{"percent first", "%5", `range format incorrect: "%5": end "%5": '%' may appear only once, at the end`},
		{"negative percent", "-5%", `range format incorrect: "-5%": end "-5%": negative percent`},
		{"negative start percent", "-5%:10%", `range format incorrect: "-5%:10%": start "-5%": negative percent`},
		{"nan", "NaN", `range format incorrect: "NaN": end "NaN": infinity and NaN are not allowed, use '~' for no start or leave the end empty`},
		{"inf end", "~:inf", `range format incorrect: "~:inf": end "inf": infinity and NaN are not allowed, use '~' for no start or leave the end empty`},
		{"minus infinity start", "-Infinity:5", `range format incorrect: "-Infinity:5": start "-Infinity": infinity and NaN are not allowed, use '~' for no start or leave the end empty`},
		{"colon alone", ":", `range format incorrect: ":": neither start nor end around ':'`},
		{"at colon", "@:", `range format incorrect: "@:": neither start nor end around ':'`},
		{"start above end", "2:1", `range format incorrect: "2:1": start 2 is greater than end 1`},
		{"inside start above end", "@5:4.5", `range format incorrect: "@5:4.5": start 5 is greater than end 4.5`},
		{"percent start above end", "10%:5%", `range format incorrect: "10%:5%": start 10% is greater than end 5%`},
		{"bare negative", "-1", `range format incorrect: "-1": end -1 is below the implicit start 0`},
		{"tilde as end", "~", `range format incorrect: "~": end "~": '~' is only allowed as start`},
		{"tilde both", "~:~", `range format incorrect: "~:~": end "~": '~' is only allowed as start`},
		{"tilde with number", "~5:10", `range format incorrect: "~5:10": start "~5": '~' must stand alone`},
		{"leading space", " 5", `range format incorrect: " 5": end " 5" is not a number`},
		{"trailing space", "5 ", `range format incorrect: "5 ": end "5 " is not a number`},
		{"hex", "0x10", `range format incorrect: "0x10": end "0x10" is not a number`},
		{"underscore", "1_000", `range format incorrect: "1_000": end "1_000" is not a number`},
		{"dot alone", ".", `range format incorrect: ".": end "." is not a number`},
		{"sign alone", "-", `range format incorrect: "-": end "-" is not a number`},
		{"bare exponent", "1e", `range format incorrect: "1e": end "1e" is not a number`},
		{"double at", "@@1", `range format incorrect: "@@1": end "@1" is not a number`},
		{"overflow", "1e999", `range format incorrect: "1e999": end "1e999" is out of range for float64`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error %q", tc.in, r, tc.want)
			}
			if !errors.Is(err, ErrRangeFormat) {
				t.Errorf("Parse(%q) error %v does not wrap ErrRangeFormat", tc.in, err)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse(%q) error:\n got %s\nwant %s", tc.in, err, tc.want)
			}
			if !r.IsZero() {
				t.Errorf("Parse(%q) returned non-zero Range %+v with error", tc.in, r)
			}
		})
	}
}

// TestParseAccepts covers valid syntax beyond the test_utils.c cases.
func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Range
	}{
		{"zero", "0", Range{}},
		{"open end", "10:", Range{Start: 10, EndInfinite: true}},
		{"never alerts", "~:", Range{StartInfinite: true, EndInfinite: true}},
		{"always alerts", "@~:", Range{StartInfinite: true, EndInfinite: true, Inside: true}},
		{"plus sign", "+5", Range{End: 5}},
		{"exponent", "1e3:2E+3", Range{Start: 1000, End: 2000}},
		{"trailing dot", "5.", Range{End: 5}},
		{"leading dot", ".5", Range{End: 0.5}},
		{"negative both", "-10:-5", Range{Start: -10, End: -5}},
		{"percent end", "80%", Range{End: 80, EndPercent: true}},
		{"percent over 100", "150%", Range{End: 150, EndPercent: true}},
		{"percent start", "10%:", Range{Start: 10, StartPercent: true, EndInfinite: true}},
		{"inside percents", "@10%:20%", Range{Start: 10, End: 20, Inside: true, StartPercent: true, EndPercent: true}},
		{"tilde to percent", "~:90%", Range{StartInfinite: true, End: 90, EndPercent: true}},
		// Unordered until the limit is known; see Resolve.
		{"mixed unordered", "50:10%", Range{Start: 50, End: 10, EndPercent: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			want := tc.want
			want.raw = tc.in
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(Range{})); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
			if got.IsZero() {
				t.Errorf("Parse(%q).IsZero() = true", tc.in)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		limit      float64
		want       Range
		wantString string
		checks     []alertCheck
	}{
		{
			name:       "80% of 128",
			in:         "80%",
			limit:      128,
			want:       Range{End: 102.4},
			wantString: "102.4",
			checks:     []alertCheck{{102.4, false}, {102.5, true}, {0, false}, {-1, true}},
		},
		{
			name:       "inside 10% to 20% of 1000",
			in:         "@10%:20%",
			limit:      1000,
			want:       Range{Start: 100, End: 200, Inside: true},
			wantString: "@100:200",
			checks:     []alertCheck{{99, false}, {100, true}, {200, true}, {201, false}},
		},
		{
			name:       "start percent open end",
			in:         "90%:",
			limit:      50,
			want:       Range{Start: 45, EndInfinite: true},
			wantString: "45:",
			checks:     []alertCheck{{44.9, true}, {45, false}, {1e9, false}},
		},
		{
			name:       "absolute endpoints untouched",
			in:         "5:10",
			limit:      1000,
			want:       Range{Start: 5, End: 10},
			wantString: "5:10",
		},
		{
			name:       "mixed",
			in:         "~:50%",
			limit:      3,
			want:       Range{StartInfinite: true, End: 1.5},
			wantString: "~:1.5",
		},
		{
			name:       "mixed ends up unordered",
			in:         "50:10%",
			limit:      100,
			want:       Range{Start: 50, End: 10},
			wantString: "50:10",
			checks:     []alertCheck{{10, true}, {30, true}, {50, true}},
		},
		{
			name:       "zero percent stays non-zero range",
			in:         "0%",
			limit:      64,
			want:       Range{},
			wantString: "0",
			checks:     []alertCheck{{0, false}, {1, true}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			got := r.Resolve(tc.limit)
			want := tc.want
			want.raw = tc.in
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(Range{})); diff != "" {
				t.Errorf("Resolve(%v) mismatch (-want +got):\n%s", tc.limit, diff)
			}
			if s := got.String(); s != tc.wantString {
				t.Errorf("String() = %q, want %q", s, tc.wantString)
			}
			for _, c := range tc.checks {
				if a := got.Alert(c.v); a != c.alert {
					t.Errorf("Alert(%v) = %v, want %v", c.v, a, c.alert)
				}
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"10", "10"},
		{"0:10", "10"},
		{":10", "10"},
		{"10:", "10:"},
		{"0:", "0:"},
		{"~:10", "~:10"},
		{"~:", "~:"},
		{"@~:", "@~:"},
		{"@10:20", "@10:20"},
		{"@0:20", "@20"},
		{"5:10", "5:10"},
		{"+5.50:1e2", "5.5:100"},
		{"-7:23", "-7:23"},
		{"~:-95.99", "~:-95.99"},
		{"12345678901234567890:", "12345678901234567000:"},
		{"0.000001", "0.000001"},
		{"80%", "80%"},
		{"0%:80%", "0%:80%"},
		{"@10%:20%", "@10%:20%"},
		{"0", "0"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			got := r.String()
			if got != tc.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, tc.want)
			}
			back, err := Parse(got)
			if err != nil {
				t.Fatalf("Parse(%q) of String(): %v", got, err)
			}
			if diff := cmp.Diff(r, back, cmpopts.IgnoreUnexported(Range{})); diff != "" {
				t.Errorf("round trip of %q via %q (-first +second):\n%s", tc.in, got, diff)
			}
		})
	}

	var zero Range
	if s := zero.String(); s != "" {
		t.Errorf("Range{}.String() = %q, want empty", s)
	}
	if !zero.IsZero() {
		t.Error("Range{}.IsZero() = false")
	}
	if zero.Alert(0) || zero.Alert(-1) || zero.Alert(1e9) {
		t.Error("Range{} alerts; an absent threshold must not")
	}
}

// FuzzParse checks that Parse never panics, that every error wraps
// ErrRangeFormat, and that String output parses back to the same Range.
// Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrRangeFormat) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrRangeFormat", s, err)
			}
			if !strings.HasPrefix(err.Error(), "range format incorrect: ") {
				t.Fatalf("Parse(%q) error %q has unexpected form", s, err)
			}
			return
		}
		if r.IsZero() {
			t.Fatalf("Parse(%q) succeeded with the zero Range", s)
		}
		str := r.String()
		back, err := Parse(str)
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, String() = %q does not parse: %v", s, r, str, err)
		}
		if diff := cmp.Diff(r, back, cmpopts.IgnoreUnexported(Range{})); diff != "" {
			t.Fatalf("round trip %q -> %q (-first +second):\n%s", s, str, diff)
		}
		if !r.StartPercent && !r.EndPercent {
			if rr := r.Resolve(123); rr != r {
				t.Fatalf("Resolve changed non-percent range %+v to %+v", r, rr)
			}
		} else if rr := r.Resolve(100); rr.StartPercent || rr.EndPercent {
			t.Fatalf("Resolve left percent flags set: %+v", rr)
		}
	})
}
