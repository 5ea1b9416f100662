package sysvipc

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LeakedArray is what the forensics take of one leaked array.
type LeakedArray struct {
	SemID int32
	PID   int // its last operation's process (GETPID), 0 when none is named
	CTime int64
	// Unit and Master: the unit and the master pid of the recorded start
	// that made it, when a unit record names it; MasterTicks its start,
	// NextTicks the unit's next recorded start's (clock ticks after boot).
	Unit        string
	Master      int
	MasterTicks uint64
	NextTicks   uint64
}

// Generation is the leaked arrays of one start of Apache, and how that
// Apache died.
type Generation struct {
	Arrays []int32
	Start  time.Time // the earliest ctime: when the start made them
	Unit   string    // the recorded unit, "" when no record names it
	PIDs   []int     // the processes that name it: last users, the recorded master
	Cause  Cause
	Death  *Death // the log line behind the cause; nil when unknown
	Why    string // for an unknown cause: what was looked at and not found
	// Began and Until bound a recorded generation's life: its master's
	// start and the unit's next recorded start (zero: not known). A
	// unit's line without a pid counts only between them.
	Began, Until           time.Time
	beganTicks, untilTicks uint64
}

// generationGap: the arrays made within 2 s of a generation's first
// array (by ctime) belong to it. Apache makes a start's mutexes within
// milliseconds; a start less than 2 s after another is merged into it,
// and a crash loop's starts, each more than 2 s after the one before,
// stay apart however many there are.
const generationGap = 2

// Generations groups leaked arrays by the start that made them: by the
// unit record where one names the start, otherwise by ctime, each
// generation spanning at most 2 s from its first array. ctime is the
// wall clock's: a clock step between two starts can merge them, or part
// them; the cause is matched by pid, never by time alone.
func Generations(arrays []LeakedArray) []Generation {
	type building struct {
		g    Generation
		pids map[int]bool
		from int64 // the first array's ctime
	}
	var out []*building
	add := func(b *building, a LeakedArray) {
		b.g.Arrays = append(b.g.Arrays, a.SemID)
		if t := time.Unix(a.CTime, 0); b.g.Start.IsZero() || t.Before(b.g.Start) {
			b.g.Start = t
		}
		if a.PID > 0 {
			b.pids[a.PID] = true
		}
	}
	recorded := map[string]*building{} // unit and master to its generation
	var loose []LeakedArray
	for _, a := range arrays {
		if a.Master == 0 {
			loose = append(loose, a)
			continue
		}
		key := a.Unit + "\x00" + strconv.Itoa(a.Master)
		b, ok := recorded[key]
		if !ok {
			b = &building{g: Generation{Unit: a.Unit, beganTicks: a.MasterTicks, untilTicks: a.NextTicks}, pids: map[int]bool{a.Master: true}}
			recorded[key] = b
			out = append(out, b)
		}
		add(b, a)
	}
	slices.SortStableFunc(loose, func(a, b LeakedArray) int { return cmp.Compare(a.CTime, b.CTime) })
	var cur *building
	for _, a := range loose {
		if cur == nil || a.CTime-cur.from > generationGap {
			cur = &building{pids: map[int]bool{}, from: a.CTime}
			out = append(out, cur)
		}
		add(cur, a)
	}
	gens := make([]Generation, len(out))
	for i, b := range out {
		b.g.PIDs = slices.Sorted(maps.Keys(b.pids))
		gens[i] = b.g
	}
	slices.SortStableFunc(gens, func(a, b Generation) int { return a.Start.Compare(b.Start) })
	return gens
}

// DeathEvidence is what the host's logs say of processes that died.
type DeathEvidence struct {
	Deaths []Death
	// KernelFrom is the time of the kernel log's oldest record; zero when
	// the kernel log was not read (KernelErr says why).
	KernelFrom time.Time
	KernelErr  error
	JournalErr error // why systemd's journal was not read, nil when it was
	// ForeignPIDs: the reader is not in the host's PID namespace, so its
	// pids are not the ones the logs give; nothing can be matched.
	ForeignPIDs bool
}

// deathSlack allows for the second the wall clock rounds ctime to, and
// for the printk clock's drift against it.
const deathSlack = 2 * time.Second

// Attribute gives each generation the cause its evidence shows, or
// unknown with what was looked at. A pid dies once: only the first line
// naming it from the generation's start on counts, and when that line
// names a process that is not Apache (apache*, httpd*), the number was
// reused and the pid names nothing. A unit's line without a pid (a stop
// timeout, its main process killed) counts for the unit's recorded
// generation up to that unit's next leaked start. Among the lines left,
// the first cause in Causes wins, then the earliest line.
func Attribute(gens []Generation, ev DeathEvidence) []Generation {
	out := make([]Generation, len(gens))
	for i, g := range gens {
		g.Cause, g.Death, g.Why = CauseUnknown, nil, ""
		if d := ev.first(g, nextStart(gens, i)); d != nil {
			g.Cause, g.Death = d.Cause, d
		} else {
			g.Why = ev.unknown(g)
		}
		out[i] = g
	}
	return out
}

// nextStart is when the next leaked generation of the same unit began;
// zero when there is none or the generation has no unit.
func nextStart(gens []Generation, i int) time.Time {
	var next time.Time
	if gens[i].Unit == "" {
		return next
	}
	for j, o := range gens {
		if j != i && o.Unit == gens[i].Unit && o.Start.After(gens[i].Start) && (next.IsZero() || o.Start.Before(next)) {
			next = o.Start
		}
	}
	return next
}

// first is the death that ended g, nil when none shows.
func (ev DeathEvidence) first(g Generation, until time.Time) *Death {
	if ev.ForeignPIDs {
		return nil
	}
	from := g.Start.Add(-deathSlack)
	var found []*Death
	for _, pid := range g.PIDs {
		var earliest *Death
		for i := range ev.Deaths {
			d := &ev.Deaths[i]
			if d.PID == pid && !d.At.Before(from) && (earliest == nil || d.At.Before(earliest.At)) {
				earliest = d
			}
		}
		if earliest != nil && apacheComm(earliest.Comm) {
			found = append(found, earliest)
		}
	}
	// A unit's line without a pid: only within this start's life, after
	// its master started (a stop timeout just before is the previous
	// start's) and before the unit's next start, recorded or leaked.
	began := from
	if !g.Began.IsZero() {
		began = g.Began
	}
	if !g.Until.IsZero() && (until.IsZero() || g.Until.Before(until)) {
		until = g.Until
	}
	for i := range ev.Deaths {
		d := &ev.Deaths[i]
		if d.PID == 0 && d.Unit != "" && d.Unit == g.Unit && !d.At.Before(began) && (until.IsZero() || d.At.Before(until)) {
			found = append(found, d)
		}
	}
	var best *Death
	rank := func(c Cause) int { return slices.Index(Causes, c) }
	for _, d := range found {
		if best == nil || rank(d.Cause) < rank(best.Cause) || (d.Cause == best.Cause && d.At.Before(best.At)) {
			best = d
		}
	}
	return best
}

// apacheComm: a name an Apache process has (apache2, httpd, httpd.worker,
// a copy renamed httpd-something), or none given (a unit's line). A name
// given but unreadable (unparsedComm, escaped bytes) is not Apache's.
func apacheComm(comm string) bool {
	return comm == "" || strings.HasPrefix(comm, "apache") || strings.HasPrefix(comm, "httpd")
}

// unknown says why no cause was found.
func (ev DeathEvidence) unknown(g Generation) string {
	var why []string
	switch {
	case ev.ForeignPIDs:
		why = append(why, "this PID namespace is not the host's: its pids are not the ones the kernel and systemd log")
	case ev.KernelErr != nil:
		why = append(why, ev.KernelErr.Error())
	case len(g.PIDs) == 0:
		why = append(why, "its arrays name no process (never operated on, or by a process outside this PID namespace)")
	case ev.KernelFrom.After(g.Start):
		why = append(why, fmt.Sprintf("no kernel log line names pid %s; the kernel log begins at %s, after these arrays were made: the lines of their Apache's death may have rotated out",
			joinPIDs(g.PIDs), ev.KernelFrom.Format(time.RFC3339)))
	default:
		why = append(why, "no kernel log line names pid "+joinPIDs(g.PIDs))
	}
	if ev.JournalErr != nil && !ev.ForeignPIDs {
		why = append(why, "journal not read: "+ev.JournalErr.Error())
	}
	return quoteLine(strings.Join(why, "; "))
}

// maxWhyPIDs is how many pids an unknown cause's reason names.
const maxWhyPIDs = 10

func joinPIDs(pids []int) string {
	var s []string
	for i, p := range pids {
		if i == maxWhyPIDs {
			s = append(s, fmt.Sprintf("and %d more", len(pids)-maxWhyPIDs))
			break
		}
		s = append(s, strconv.Itoa(p))
	}
	return strings.Join(s, ", ")
}

// Summary is one generation in a few words: "03:14 OOM killer (pid 1234
// apache2)", "04:02 cause unknown". The time is the death's, or for an
// unknown cause the start's; in the local zone.
func (g Generation) Summary() string {
	if g.Death == nil {
		return g.Start.Local().Format("15:04") + " cause unknown" // when the arrays were made
	}
	d := g.Death
	at := d.At.Local().Format("15:04")
	who := ""
	if d.PID != 0 {
		who = "pid " + strconv.Itoa(d.PID)
		if d.Comm != "" {
			who += " " + Printable(d.Comm)
		}
	}
	if d.Unit != "" {
		who = strings.TrimPrefix(who+", "+Printable(d.Unit), ", ")
	}
	what := map[Cause]string{CauseOOMKilled: "OOM killer", CauseStopTimeout: "stop timeout", CauseCrashed: "crashed", CauseKilled: "SIGKILL"}[g.Cause]
	if g.Cause == CauseKilled && d.PID != 0 {
		what = "killed by systemd" // "Killing process N (...) with signal SIGKILL"
	}
	return fmt.Sprintf("%s %s (%s)", at, what, who)
}

// maxSummaries is how many generations one line names.
const maxSummaries = 5

// GenerationsLine is the one line the faces print: "2 leaked generations:
// 03:14 OOM killer (pid 1234 apache2), 04:02 cause unknown".
func GenerationsLine(gens []Generation) string {
	if len(gens) == 0 {
		return ""
	}
	noun := "generations"
	if len(gens) == 1 {
		noun = "generation"
	}
	parts := make([]string, 0, maxSummaries+1)
	for i, g := range gens {
		if i == maxSummaries {
			parts = append(parts, fmt.Sprintf("and %d more", len(gens)-maxSummaries))
			break
		}
		parts = append(parts, g.Summary())
	}
	return fmt.Sprintf("%d leaked %s: %s", len(gens), noun, strings.Join(parts, ", "))
}

// CountByCause counts generations by cause, every cause present (0 when
// none), for a bounded metric.
func CountByCause(gens []Generation) map[Cause]int {
	out := make(map[Cause]int, len(Causes))
	for _, c := range Causes {
		out[c] = 0
	}
	for _, g := range gens {
		out[g.Cause]++
	}
	return out
}

// detailTime is how a detail line prints times: whole, with the zone.
const detailTime = "2006-01-02 15:04:05 MST"

// maxDetailIDs is how many semids a generation's line names.
const maxDetailIDs = 10

// GenerationDetails is a line a generation, at most five: its arrays and
// the log line behind its cause, or why the cause is unknown.
func GenerationDetails(gens []Generation) []string {
	var out []string
	for i, g := range gens {
		if i == maxSummaries {
			break
		}
		var ids []string
		for j, id := range g.Arrays {
			if j == maxDetailIDs {
				ids = append(ids, fmt.Sprintf("and %d more", len(g.Arrays)-maxDetailIDs))
				break
			}
			ids = append(ids, strconv.Itoa(int(id)))
		}
		head := fmt.Sprintf("made %s, semid %s: %s", g.Start.Local().Format(detailTime), strings.Join(ids, ", "), g.Cause)
		if g.Death != nil {
			out = append(out, fmt.Sprintf("%s at %s: %s", head, g.Death.At.Local().Format(detailTime), g.Death.Line))
		} else {
			out = append(out, head+": "+g.Why)
		}
	}
	return out
}
