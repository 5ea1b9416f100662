package sysvipc

import (
	"errors"
	"fmt"
	"os"
	"slices"
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
			a.Unit, a.Master = s.unit, s.master.PID
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
			for _, a := range s.Arrays {
				out[a.SemID] = witnessed{array: a, master: s.Master, unit: unit}
			}
		}
	}
	return out
}

// RecordedStart names the unit and the master pid of the recorded start
// that made the array with this semid and ctime.
func (b *NamespaceRecords) RecordedStart(semid int32, ctime int64) (unit string, master int, ok bool) {
	s, ok := b.startsBySemID()[semid]
	if !ok || s.array.CTime != ctime {
		return "", 0, false
	}
	return s.unit, s.master.PID, true
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
	return Attribute(gens, logs.read(fs, gens[0].Start.Add(-deathSlack)))
}

// Evidence reads the host's logs once for every namespace a face judges
// (Telegraf's namespaces = "all", the check's --all-namespaces): the
// kernel log once, the journal again only for an older start.
type Evidence struct {
	KernelLog string // DefaultKernelLog, or a saved log
	kernel    *DeathEvidence
	since     time.Time
	journal   []Death
	jerr      error
}

// NewEvidence reads the kernel log at path (DefaultKernelLog) when first
// asked.
func NewEvidence(path string) *Evidence { return &Evidence{KernelLog: path} }

func (e *Evidence) read(fs FS, since time.Time) DeathEvidence {
	if e.kernel == nil {
		k := fs.readKernelEvidence(e.KernelLog)
		e.kernel = &k
	}
	if e.since.IsZero() || since.Before(e.since) {
		e.journal, e.jerr = ReadJournal(since)
		e.since = since
	}
	ev := *e.kernel
	ev.Deaths = append(slices.Clone(ev.Deaths), e.journal...)
	ev.JournalErr = e.jerr
	return ev
}

// readKernelEvidence reads the kernel log, and whether this PID namespace
// is the host's (where pid 2 is the kernel's kthreadd, the parent of its
// threads).
func (fs FS) readKernelEvidence(path string) DeathEvidence {
	var ev DeathEvidence
	if comm, err := os.ReadFile(fs.Path("2", "comm")); err != nil || strings.TrimSpace(string(comm)) != "kthreadd" {
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
