package main

import (
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// maxAuditGenerations bounds the generations one audit line carries.
const maxAuditGenerations = 20

// maxAuditSemIDs bounds the semids (and pids) named for one generation.
const maxAuditSemIDs = 64

// generationRecord is one leaked generation in the audit log: its arrays,
// and how its Apache died with the log line that says so, or why that is
// not known.
type generationRecord struct {
	Start  time.Time     `json:"start"`
	Arrays []int32       `json:"semids"`
	More   int           `json:"semids_omitted,omitempty"`
	PIDs   []int         `json:"pids,omitempty"`
	Unit   string        `json:"unit,omitempty"`
	Cause  sysvipc.Cause `json:"cause"`
	At     *time.Time    `json:"at,omitempty"`
	PID    int           `json:"pid,omitempty"`
	Comm   string        `json:"comm,omitempty"`
	Line   string        `json:"line,omitempty"`
	Why    string        `json:"why,omitempty"`
}

// leakForensics groups the arrays a run removed (or, in a dry run, would
// remove) into generations and gives each its cause from the kernel log
// and the journal. The handler runs as root in the host's PID namespace,
// where the logs number pids as the arrays' last pids are numbered.
func leakForensics(rep remediate.Report, records map[string][]byte) []sysvipc.Generation {
	last := map[int32]remediate.Evidence{}
	for _, e := range rep.Evidence {
		last[e.SemID] = e // a later round's judgement replaces the first
	}
	nsRecords := sysvipc.NewNamespaceRecords(records, rep.Namespace)
	var leaked []sysvipc.LeakedArray
	add := func(e remediate.Evidence) {
		leaked = append(leaked, sysvipc.LeakedArray{SemID: e.SemID, PID: e.LastPID, CTime: e.CTime})
	}
	if rep.DryRun {
		for _, e := range last {
			if e.Verdict == sysvipc.Stale {
				add(e)
			}
		}
	}
	for _, a := range rep.Actions {
		if e, ok := last[a.SemID]; ok && a.Outcome == remediate.Removed {
			add(e)
		}
	}
	if len(leaked) == 0 {
		return nil
	}
	nsRecords.RecordedStarts(leaked)
	fs, err := sysvipc.NewDefaultFS()
	if err != nil {
		return sysvipc.Attribute(sysvipc.Generations(leaked), sysvipc.DeathEvidence{KernelErr: err})
	}
	return fs.LeakForensics(leaked, sysvipc.NewEvidence(sysvipc.DefaultKernelLog))
}

// generationRecords is the audit's view of the generations, at most 20.
func generationRecords(gens []sysvipc.Generation) []generationRecord {
	out := make([]generationRecord, 0, min(len(gens), maxAuditGenerations))
	for i, g := range gens {
		if i == maxAuditGenerations {
			break
		}
		r := generationRecord{Start: g.Start.UTC(), Arrays: g.Arrays, PIDs: g.PIDs, Unit: g.Unit, Cause: g.Cause, Why: g.Why}
		if len(r.Arrays) > maxAuditSemIDs {
			r.Arrays, r.More = r.Arrays[:maxAuditSemIDs], len(r.Arrays)-maxAuditSemIDs
		}
		if len(r.PIDs) > maxAuditSemIDs {
			r.PIDs = r.PIDs[:maxAuditSemIDs]
		}
		if d := g.Death; d != nil {
			at := d.At.UTC()
			r.At, r.PID, r.Comm, r.Line = &at, d.PID, d.Comm, d.Line
		}
		out = append(out, r)
	}
	return out
}
