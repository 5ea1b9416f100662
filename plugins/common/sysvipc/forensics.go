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
// crashes) and systemd's journal (stop timeouts, SIGKILLs), each read
// once. Pids are matched as this process numbers them: run it in the
// host's PID namespace, as the kernel's and systemd's logs number them.
func (fs FS) LeakForensics(leaked []LeakedArray, kernelLog string) []Generation {
	gens := Generations(leaked)
	if len(gens) == 0 {
		return nil
	}
	return Attribute(gens, fs.ReadDeathEvidence(gens[0].Start.Add(-deathSlack), kernelLog))
}

// ReadDeathEvidence reads the kernel log and systemd's journal (from
// since on). What cannot be read is said, never guessed.
func (fs FS) ReadDeathEvidence(since time.Time, kernelLog string) DeathEvidence {
	var ev DeathEvidence
	boot, berr := fs.bootTime()
	log, kerr := ReadKernelLog(kernelLog)
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
	deaths, jerr := ReadJournal(since)
	ev.Deaths = append(ev.Deaths, deaths...)
	ev.JournalErr = jerr
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
