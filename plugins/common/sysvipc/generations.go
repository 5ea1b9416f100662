package sysvipc

import (
	"fmt"
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
	// that made it, when a unit record names it.
	Unit   string
	Master int
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
}

// generationGap: an array made within this many seconds of the one
// before (by ctime) belongs to the same start. Apache makes a start's
// mutexes within milliseconds; one start a second or less after another
// is merged into it.
const generationGap = 2

// Generations groups leaked arrays by the start that made them: by the
// unit record where one names the start, otherwise by ctime, a new
// generation where the gap to the array made before is over 2 s. ctime is
// the wall clock's: a clock step between two starts can merge them, or
// part them; the cause is matched by pid, never by time alone.
func Generations(arrays []LeakedArray) []Generation {
	var out []Generation
	recorded := map[string]int{} // unit and master to its generation
	var loose []LeakedArray
	for _, a := range arrays {
		if a.Master == 0 {
			loose = append(loose, a)
			continue
		}
		key := a.Unit + "\x00" + strconv.Itoa(a.Master)
		i, ok := recorded[key]
		if !ok {
			i = len(out)
			recorded[key] = i
			out = append(out, Generation{Unit: a.Unit, PIDs: []int{a.Master}})
		}
		out[i] = out[i].add(a)
	}
	slices.SortStableFunc(loose, func(a, b LeakedArray) int { return int(a.CTime - b.CTime) })
	for i, a := range loose {
		if i == 0 || a.CTime-loose[i-1].CTime > generationGap {
			out = append(out, Generation{})
		}
		out[len(out)-1] = out[len(out)-1].add(a)
	}
	slices.SortStableFunc(out, func(a, b Generation) int { return a.Start.Compare(b.Start) })
	return out
}

func (g Generation) add(a LeakedArray) Generation {
	g.Arrays = append(g.Arrays, a.SemID)
	if t := time.Unix(a.CTime, 0); g.Start.IsZero() || t.Before(g.Start) {
		g.Start = t
	}
	if a.PID > 0 && !slices.Contains(g.PIDs, a.PID) {
		g.PIDs = append(g.PIDs, a.PID)
	}
	slices.Sort(g.PIDs)
	return g
}

// DeathEvidence is what the host's logs say of processes that died.
type DeathEvidence struct {
	Deaths []Death
	// KernelFrom is the time of the kernel log's oldest record; zero when
	// the kernel log was not read (KernelErr says why).
	KernelFrom time.Time
	KernelErr  error
	JournalErr error // why systemd's journal was not read, nil when it was
}

// deathSlack allows for the second the wall clock rounds ctime to, and
// for the printk clock's drift against it.
const deathSlack = 2 * time.Second

// Attribute gives each generation the cause its evidence shows, in the
// order of Causes: a kernel line (OOM kill, crash) or a SIGKILL of
// systemd's naming one of its processes, or systemd's stop timeout of
// its recorded unit, at or after its start. Otherwise unknown, with what
// was looked at.
func Attribute(gens []Generation, ev DeathEvidence) []Generation {
	out := make([]Generation, len(gens))
	for i, g := range gens {
		g.Cause, g.Death, g.Why = CauseUnknown, nil, ""
		if d := ev.first(g); d != nil {
			g.Cause, g.Death = d.Cause, d
		} else {
			g.Why = ev.unknown(g)
		}
		out[i] = g
	}
	return out
}

// first is the death that ended g: the first cause in Causes with a line
// naming g, the earliest such line.
func (ev DeathEvidence) first(g Generation) *Death {
	for _, cause := range Causes {
		var best *Death
		for i := range ev.Deaths {
			d := &ev.Deaths[i]
			if d.Cause != cause || d.At.Before(g.Start.Add(-deathSlack)) || !names(*d, g) {
				continue
			}
			if best == nil || better(*d, *best) {
				best = d
			}
		}
		if best != nil {
			return best
		}
	}
	return nil
}

// better prefers the line that tells the kill ("Killed process 1234
// (apache2) ...") to the OOM killer's summary of it, which a long cgroup
// path can push the pid out of in 200 bytes; then the earlier line.
func better(d, than Death) bool {
	if d.summary != than.summary {
		return !d.summary
	}
	return d.At.Before(than.At)
}

// names: the line gives one of the generation's pids, or, with no pid,
// its recorded unit.
func names(d Death, g Generation) bool {
	if d.PID != 0 {
		return slices.Contains(g.PIDs, d.PID)
	}
	return d.Unit != "" && d.Unit == g.Unit
}

// unknown says why no cause was found.
func (ev DeathEvidence) unknown(g Generation) string {
	var why []string
	switch {
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
	if ev.JournalErr != nil {
		why = append(why, "journal not read: "+ev.JournalErr.Error())
	}
	return strings.Join(why, "; ")
}

func joinPIDs(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}

// Summary is one generation in a few words: "03:14 OOM killer (pid 1234
// apache2)", "04:02 cause unknown". The time is the death's, or for an
// unknown cause the start's; in the local zone.
func (g Generation) Summary() string {
	if g.Death == nil {
		return g.Start.Local().Format("15:04") + " cause unknown"
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
	what := map[Cause]string{CauseOOMKilled: "OOM killer", CauseStopTimeout: "stop timeout", CauseCrashed: "crashed", CauseKilled: "killed by systemd"}[g.Cause]
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
		head := fmt.Sprintf("made %s, semid %s: %s", g.Start.Local().Format("2006-01-02 15:04:05"), strings.Join(ids, ", "), g.Cause)
		if g.Death != nil {
			out = append(out, fmt.Sprintf("%s at %s: %s", head, g.Death.At.Local().Format("15:04:05"), g.Death.Line))
		} else {
			out = append(out, head+": "+g.Why)
		}
	}
	return out
}
