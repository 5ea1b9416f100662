package sysvipc

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// LeakedArrays takes what the forensics need of arrays judged stale, with
// the unit and master of the recorded start that made each, where the
// records name one.
func LeakedArrays(stale []Classification, records *NamespaceRecords) []LeakedArray {
	starts := records.startsBySemID()
	out := make([]LeakedArray, 0, len(stale))
	for _, c := range stale {
		a := LeakedArray{SemID: c.Array.SemID, CTime: c.Array.CTime}
		if c.Detail != nil {
			a.PID = c.Detail.PID
		}
		if s, ok := starts[c.Array.SemID]; ok && s.array.Same(c.Array) {
			a.Unit, a.Master, a.MasterTicks, a.NextTicks = s.unit, s.master.PID, s.master.StartTicks, s.next
		}
		out = append(out, a)
	}
	return out
}

// startsBySemID files every recorded array of this namespace under the
// start that made it.
func (b *NamespaceRecords) startsBySemID() map[int32]witnessed {
	out := map[int32]witnessed{}
	if b == nil {
		return out
	}
	for unit, r := range b.Units {
		for _, s := range r.Starts {
			if s.IPCNS != b.ns {
				continue
			}
			var next uint64
			for _, o := range r.Starts {
				if o.IPCNS == b.ns && o.Master.StartTicks > s.Master.StartTicks && (next == 0 || o.Master.StartTicks < next) {
					next = o.Master.StartTicks
				}
			}
			for _, a := range s.Arrays {
				out[a.SemID] = witnessed{array: a, master: s.Master, unit: unit, next: next}
			}
		}
	}
	return out
}

// RecordedStarts fills in, for each array, the recorded start that made
// the one its semid and ctime name: its unit, master and the unit's next
// start.
func (b *NamespaceRecords) RecordedStarts(arrays []LeakedArray) {
	starts := b.startsBySemID()
	for i := range arrays {
		a := &arrays[i]
		if s, ok := starts[a.SemID]; ok && s.array.CTime == a.CTime {
			a.Unit, a.Master, a.MasterTicks, a.NextTicks = s.unit, s.master.PID, s.master.StartTicks, s.next
		}
	}
}

// LeakForensics groups leaked arrays into generations and gives each the
// cause the host's logs show: the kernel log at kernelLog (OOM kills,
// crashes) and systemd's journal (stop timeouts, SIGKILLs), read once
// per Evidence. Pids are matched as this process numbers them, which is
// the logs' numbering only in the host's PID namespace: elsewhere every
// cause is unknown, and says why.
func (fs FS) LeakForensics(leaked []LeakedArray, logs *Evidence) []Generation {
	gens := Generations(leaked)
	if len(gens) == 0 {
		return nil
	}
	if boot, err := fs.bootTime(); err == nil {
		for i := range gens {
			gens[i].Began = ticksAfter(boot, gens[i].beganTicks)
			gens[i].Until = ticksAfter(boot, gens[i].untilTicks)
		}
	}
	return Attribute(gens, logs.read(fs))
}

// ticksAfter is a process start time; zero for 0 ticks (none).
func ticksAfter(boot time.Time, ticks uint64) time.Time {
	if ticks == 0 {
		return time.Time{}
	}
	return boot.Add(time.Duration(ticks) * time.Second / userHZ)
}

// AssessmentForensics is LeakForensics for a face's assessment: its
// stale arrays, listed once more when the assessment kept counts only
// (AssessLiveCounts), with the records it was judged by. Nil when none
// is stale.
func (fs FS) AssessmentForensics(a Assessment, pol Policy, logs *Evidence) ([]Generation, error) {
	if a.Tally.Stale == 0 {
		return nil, nil
	}
	stale := a.Stale()
	if a.Arrays == nil {
		arrays, err := fs.LiveSemArrays()
		if err != nil {
			return nil, err
		}
		full, err := fs.Assess(arrays, fs.Prober(), pol)
		if err != nil {
			return nil, err
		}
		stale = full.Stale()
	}
	return fs.LeakForensics(LeakedArrays(stale, pol.Records), logs), nil
}

// Evidence reads the host's logs once for every namespace a face judges
// (Telegraf's namespaces = "all", the check's --all-namespaces): the
// kernel log, and systemd's journal since boot (no array outlives a
// reboot, so no leak's cause is older).
type Evidence struct {
	KernelLog string // DefaultKernelLog, or a saved log
	ev        *DeathEvidence
}

// NewEvidence reads the kernel log at path (DefaultKernelLog) when first
// asked.
func NewEvidence(path string) *Evidence { return &Evidence{KernelLog: path} }

func (e *Evidence) read(fs FS) DeathEvidence {
	if e.ev == nil {
		ev := fs.readKernelEvidence(e.KernelLog)
		if !ev.ForeignPIDs {
			boot, err := fs.bootTime()
			if err != nil {
				ev.JournalErr = err
			} else {
				deaths, jerr := ReadJournal(boot)
				ev.Deaths, ev.JournalErr = append(ev.Deaths, deaths...), jerr
			}
		}
		e.ev = &ev
	}
	return *e.ev
}

// hostPIDNamespace is the initial PID namespace's link: its inode is
// fixed (PROC_PID_INIT_INO).
const hostPIDNamespace = "pid:[4026531836]"

// readKernelEvidence reads the kernel log, when this process is in the
// host's PID namespace (its own, whatever HOST_PROC says: semctl numbers
// pids in the caller's namespace).
func (fs FS) readKernelEvidence(path string) DeathEvidence {
	var ev DeathEvidence
	if ns, err := os.Readlink("/proc/self/ns/pid"); err != nil || ns != hostPIDNamespace {
		ev.ForeignPIDs = true
		return ev
	}
	boot, berr := fs.bootTime()
	log, kerr := ReadKernelLog(path)
	switch {
	case kerr != nil:
		ev.KernelErr = explainKernelLog(kerr)
	case berr != nil:
		ev.KernelErr = berr
	default:
		ev.Deaths = KernelDeaths(log, boot)
		ev.KernelFrom = time.Now()
		if len(log.Records) > 0 {
			ev.KernelFrom = boot.Add(log.Records[0].Since)
		}
	}
	return ev
}

// explainKernelLog says who may read the kernel log when this user may not.
func explainKernelLog(err error) error {
	if !errors.Is(err, os.ErrPermission) {
		return err
	}
	restrict := "?"
	if b, rerr := os.ReadFile("/proc/sys/kernel/dmesg_restrict"); rerr == nil {
		restrict = strings.TrimSpace(string(b))
	}
	return fmt.Errorf("%w (uid %d; with kernel.dmesg_restrict=%s only root, with CAP_SYSLOG, reads it)", err, os.Geteuid(), restrict)
}
