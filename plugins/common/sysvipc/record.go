package sysvipc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// A unit's start hooks keep a record between its starts: the arrays that
// appeared during each start, with the master they belong to. Only root
// writes it (a file under /run, gone at reboot together with every
// array); every face reads it, because a record proves whose an array is
// by who could write it, not by who may read it. The remediation plugin
// writes and prunes records; every face judges by them (NamespaceRecords).

// recordVersion is the version of UnitRecord's encoding; a record of
// another version is ignored (the normal rules decide), never guessed at.
const recordVersion = 1

// maxStarts bounds a record: a unit that crash-loops without its
// before-start ever running (ExecStartPre removed by hand) would otherwise
// grow it forever. The oldest dead start goes first.
const maxStarts = 64

// UnitRecord is what a unit's start hooks keep between its starts.
type UnitRecord struct {
	Version int    `json:"version"`
	Unit    string `json:"unit"`
	// Before is what the last before-start saw; the after-start that
	// follows takes it to tell the arrays this start made.
	Before *StartSnapshot `json:"before,omitempty"`
	Starts []UnitStart    `json:"starts"`
}

// StartSnapshot is the namespace at a before-start.
type StartSnapshot struct {
	Time time.Time `json:"time"`
	// IPCNS is the inode of the IPC namespace it was taken in: a record
	// speaks only of that namespace's arrays.
	IPCNS  uint64  `json:"ipc_namespace"`
	SemIDs []int32 `json:"semids"` // every array then, of any owner
	// Apache are the masters and orphans alive then: one that is not
	// there then and runs at after-start started meanwhile.
	Apache []ProcessID `json:"apache"`
	// Ticks is the newest start (clock ticks after boot) of any process
	// then: a process that started later is new to the after-start.
	Ticks uint64 `json:"ticks"`
}

// UnitStart is one start of the unit as its after-start saw it: the
// master and the arrays that appeared during the start.
type UnitStart struct {
	IPCNS  uint64    `json:"ipc_namespace"`
	Master ProcessID `json:"master"`
	// Shared are the master's anonymous shared mappings (its scoreboard):
	// an orphan that shares one is that master's fork.
	Shared   []uint64    `json:"shared,omitempty"`
	Recorded time.Time   `json:"recorded"`
	Arrays   []Witnessed `json:"arrays"`
}

// ErrRecord marks a record that cannot be used.
var ErrRecord = errors.New("unusable witness record")

// DecodeUnitRecord reads unit's record, refusing one of another version,
// of another unit or with fields it does not know.
func DecodeUnitRecord(unit string, b []byte) (UnitRecord, error) {
	var r UnitRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return UnitRecord{}, fmt.Errorf("%w: unit %s: %w", ErrRecord, unit, err)
	}
	switch {
	case r.Version != recordVersion:
		return UnitRecord{}, fmt.Errorf("%w: unit %s: version %d, want %d", ErrRecord, unit, r.Version, recordVersion)
	case r.Unit != unit:
		return UnitRecord{}, fmt.Errorf("%w: unit %s: the record names unit %q", ErrRecord, unit, r.Unit)
	}
	for i, s := range r.Starts {
		if s.Master.PID <= 0 {
			return UnitRecord{}, fmt.Errorf("%w: unit %s: start %d: master pid %d", ErrRecord, unit, i, s.Master.PID)
		}
	}
	return r, nil
}

// Encode is the record as the host stores it, the oldest starts dropped
// past maxStarts.
func (r UnitRecord) Encode() []byte {
	r.Version = recordVersion
	if len(r.Starts) > maxStarts {
		r.Starts = r.Starts[len(r.Starts)-maxStarts:]
	}
	b, err := json.Marshal(r)
	if err != nil {
		// Only plain fields: Marshal cannot fail on them.
		panic(err)
	}
	return b
}

// NamespaceRecords is every unit's record of one IPC namespace, decoded once.
// Set as Policy.Records, it turns a dead start's arrays into witnessed
// leaks and a live start's into its master's, in every face.
type NamespaceRecords struct {
	Units    map[string]UnitRecord
	Problems []string // records that could not be used, and why
	// Unreadable: records exist that this reader may not read
	// (ErrRecordsUnreadable): what root judges by them, it cannot
	// (ReasonRecordsUnreadable).
	Unreadable bool
	ns         uint64
}

func (b *NamespaceRecords) unreadable() bool { return b != nil && b.Unreadable }

// NewNamespaceRecords decodes the records as the host keeps them, for judging
// the IPC namespace with inode ns. A start recorded in another namespace
// (the host's records, judging a container's) says nothing of this one's
// arrays; one whose namespace was unknown (0) is used only where the
// current one is unknown too.
func NewNamespaceRecords(encoded map[string][]byte, ns uint64) *NamespaceRecords {
	b := &NamespaceRecords{Units: map[string]UnitRecord{}, ns: ns}
	for _, unit := range slices.Sorted(maps.Keys(encoded)) {
		r, err := DecodeUnitRecord(unit, encoded[unit])
		if err != nil {
			b.Problems = append(b.Problems, err.Error())
			continue
		}
		b.Units[unit] = r
	}
	return b
}

// witnessed is one recorded array with the master of its start.
type witnessed struct {
	array  Witnessed
	master ProcessID
	shared []uint64
	unit   string
	next   uint64 // the unit's next recorded start's master start (ticks); 0: none
}

// Witnesses are a namespace's recorded arrays sorted out against one census: those of
// starts whose master is gone, and those of starts whose master runs.
// The zero value knows of no array.
type Witnesses struct {
	dead map[int32]witnessed
	live map[int32]string // semid to the unit whose live master recorded it
}

// Sorted files each recorded array under a live or a dead master, by the
// census. An array recorded under a live master anywhere is never dead.
func (b *NamespaceRecords) Sorted(census Census) Witnesses {
	w := Witnesses{dead: map[int32]witnessed{}, live: map[int32]string{}}
	if b == nil {
		return w
	}
	for unit, r := range b.Units {
		for _, s := range r.Starts {
			if s.IPCNS != b.ns {
				continue
			}
			alive := s.Master.Alive(census)
			for _, a := range s.Arrays {
				if alive {
					w.live[a.SemID] = unit
				} else {
					w.dead[a.SemID] = witnessed{array: a, master: s.Master, shared: s.Shared, unit: unit}
				}
			}
		}
	}
	for id := range w.live {
		delete(w.dead, id)
	}
	return w
}

// LiveUnit names the unit whose running master recorded the array.
func (w Witnesses) LiveUnit(semid int32) (string, bool) {
	u, ok := w.live[semid]
	return u, ok
}

// DeadStart names the unit and the master of the dead start that
// recorded the array.
func (w Witnesses) DeadStart(semid int32) (unit string, master int, ok bool) {
	d, ok := w.dead[semid]
	return d.unit, d.master.PID, ok
}

// DeadMasters are the pids of the recorded masters that are gone, with
// their shared mappings: an orphan in such a group that shares one is a
// unit's own leftover (a pid, and so a group number, may be reused).
func (w Witnesses) DeadMasters() map[int][]uint64 {
	out := map[int][]uint64{}
	for _, d := range w.dead {
		out[d.master.PID] = append(out[d.master.PID], d.shared...)
	}
	return out
}

// judge applies the records to one candidate's classification: an array
// a live master recorded is live; one a dead master recorded, unchanged,
// is judged by the witness rules, without minimum age and whatever else
// runs.
func (w Witnesses) judge(c Classification, j rules) Classification {
	if _, ok := w.live[c.Array.SemID]; ok {
		return WitnessedLive(c)
	}
	d, ok := w.dead[c.Array.SemID]
	if !ok || c.Verdict == Stale || c.Detail == nil || !d.array.Same(c.Array) {
		return c
	}
	return j.witnessed(c.Array, *c.Detail, d.master)
}
