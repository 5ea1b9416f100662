package check

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ipcwatch/ipcwatch/nagios/nagrange"
	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// judged is one namespace's resources and state.
type judged struct {
	f     facts
	rs    []resource
	state nagrange.State
}

// judge evaluates one namespace. A stale count is a measurement only when
// every Apache-shaped array could be read: with some unreadable (semctl
// refused, as an unprivileged user) the count is not taken at all, the
// stale resource says how many could not be read and as whom, and with
// stale thresholds asked the check is UNKNOWN unless something measured
// is worse (monitoring-plugins' max_state_alt: CRITICAL > WARNING >
// UNKNOWN > OK).
func judge(o options, f facts) judged {
	var stale *int
	var unjudged map[sysvipc.Reason]int
	if a := f.assessment; a != nil {
		if unjudged = unmeasured(*a); len(unjudged) == 0 {
			stale = &a.Tally.Stale
		}
	}
	rs := evaluate(o, f.usage, f.limits, stale)
	state := worst(rs)
	if len(unjudged) > 0 {
		r := resource{label: "stale_arrays", noun: "stale apache arrays", limit: -1, unjudged: unjudged, state: nagrange.OK}
		if !o.stale.warn.IsZero() || !o.stale.crit.IsZero() {
			r.state = nagrange.Unknown
			if state == nagrange.OK {
				state = nagrange.Unknown
			}
		}
		rs = append(rs, r)
	}
	return judged{f: f, rs: rs, state: state}
}

// unmeasured counts the Apache-shaped arrays whose verdict was never
// measured, by reason (sysvipc.UnjudgedReasons): nil when there are none.
func unmeasured(a sysvipc.Assessment) map[sysvipc.Reason]int {
	var out map[sysvipc.Reason]int
	for _, why := range sysvipc.UnjudgedReasons {
		if n := a.Tally.UnknownWhy[why]; n > 0 {
			if out == nil {
				out = map[sysvipc.Reason]int{}
			}
			out[why] = n
		}
	}
	return out
}

func (j judged) summary() string {
	var parts []string
	for _, r := range headline(j.rs) {
		parts = append(parts, r.summary())
	}
	return strings.Join(parts, ", ")
}

// report formats the output: the first line with perfdata, then the long
// text that -v asks for. all[0] is the namespace whose perfdata is shown:
// this process's own, or the one --pid names.
func report(o options, all []facts, now time.Time) (string, nagrange.State) {
	js := make([]judged, len(all))
	w := 0
	for i, f := range all {
		js[i] = judge(o, f)
		if js[i].state > js[w].state {
			w = i
		}
	}
	state := js[w].state
	summary := js[0].summary()
	switch {
	case o.pid != 0:
		summary = all[0].ns.Label() + ": " + summary
	case o.allNamespaces && state == nagrange.OK:
		summary += fmt.Sprintf("; %d namespaces OK", len(js))
	case o.allNamespaces:
		summary = all[w].ns.Label() + ": " + js[w].summary() + fmt.Sprintf("; worst of %d namespaces", len(js))
	}
	var perf []string
	for _, r := range js[0].rs {
		if p := r.perfdata(); p != "" {
			perf = append(perf, p)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s - %s | %s\n", serviceName, state, clean(summary), strings.Join(perf, " "))

	long := func(format string, args ...any) { b.WriteString(clean(fmt.Sprintf(format, args...)) + "\n") }
	for i, j := range js {
		if o.allNamespaces && o.verbose >= 1 {
			long("%s: %s - %s", all[i].ns.Label(), j.state, j.summary())
		}
		if i == 0 || o.verbose >= 2 {
			writeLong(o, j, long, now)
		}
	}
	return b.String(), state
}

// writeLong is one namespace's long text.
func writeLong(o options, j judged, long func(string, ...any), now time.Time) {
	f := j.f
	if o.verbose >= 1 {
		for _, r := range j.rs {
			if r.notMeasured() > 0 {
				long("%s (%s)", r.summary(), r.state)
				continue
			}
			if r.limit < 0 {
				long("%s: %d (%s)", r.noun, r.used, r.state)
				continue
			}
			long("%s: %d used of %d (%.1f%%, %s)", r.noun, r.used, r.limit, r.percent(), r.state)
		}
		if a := f.assessment; a != nil {
			writeDoubts(long, *a)
			for _, l := range sysvipc.KeptLines(f.kept, sysvipc.MaxKeptLines, o.policyFile) {
				long("%s", l)
			}
			if line := a.Tally.Maturing.Line(o.minAge); line != "" {
				long("%s", line)
			}
			for _, p := range f.recordProblems {
				long("unit record not used: %s", p)
			}
			if line := sysvipc.GenerationsLine(f.generations); line != "" {
				long("%s", line)
				for _, l := range sysvipc.GenerationDetails(f.generations) {
					long("  %s", l)
				}
			}
		}
	}
	if a := f.assessment; a != nil && o.verbose >= 2 {
		for _, c := range a.Stale() {
			long("stale semid %d: owner %s, idle %s, last pid %d %s (%s)", c.Array.SemID, sysvipc.UserName(c.Array.UID),
				c.Age.Round(time.Second), pidOf(c), c.PIDState, joinReasons(c.Reasons))
		}
	}
	if a := f.assessment; a != nil && o.verbose >= 3 {
		for _, c := range a.Arrays {
			if ok, _ := f.policy.Candidate(c.Array); !ok {
				continue
			}
			long("%s", evidence(c))
		}
	}
}

// writeDoubts says what the classifier could not prove, and why, so a
// non-root check tells its operator what it did not see.
func writeDoubts(long func(string, ...any), a sysvipc.Assessment) {
	why := a.Tally.UnknownWhy
	if len(why) > 0 {
		var parts []string
		for r, n := range why {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
		}
		sort.Strings(parts)
		hint := ""
		if why[sysvipc.ReasonUnreadable] > 0 {
			hint += "; semctl needs read permission on the array (run as root or the owner)"
		}
		if why[sysvipc.ReasonMasterMayOwn] > 0 {
			hint += "; a running apache master may have made any array older than itself in its start-up"
		}
		long("not proven stale or live: %s%s", strings.Join(parts, ", "), hint)
	}
	for _, p := range a.Census.WithRole(sysvipc.RoleOrphan) {
		long("orphaned apache worker: pid %d (%s), started %s", p.PID, sysvipc.UserName(p.EUID), p.Start.UTC().Format(time.RFC3339))
	}
}

// evidence is one candidate's line at -vvv.
func evidence(c sysvipc.Classification) string {
	s := fmt.Sprintf("semid %d key 0x%08x owner %s nsems %d", c.Array.SemID, uint32(c.Array.Key), sysvipc.UserName(c.Array.UID), c.Array.NSems)
	if d := c.Detail; d != nil {
		s += fmt.Sprintf(" value %d ncnt %d zcnt %d pid %d (%s) otime %d ctime %d", d.Value, d.NCnt, d.ZCnt, d.PID, c.PIDState, d.OTime, d.CTime)
	} else if c.DetailErr != nil {
		s += fmt.Sprintf(" detail: %v", c.DetailErr)
	}
	return s + fmt.Sprintf(": %s (%s)", c.Verdict, joinReasons(c.Reasons))
}

func pidOf(c sysvipc.Classification) int {
	if c.Detail == nil {
		return 0
	}
	return c.Detail.PID
}

func joinReasons(rs []sysvipc.Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
