package leaks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// recordVersion is the version of Record's encoding; a record of another
// version is ignored (the normal rules decide), never guessed at.
const recordVersion = 1

// maxStarts bounds a record: a unit that crash-loops without its
// before-start ever running (ExecStartPre removed by hand) would otherwise
// grow it forever. The oldest dead start goes first.
const maxStarts = 64

// Record is what a unit's start hooks keep between its starts. The host
// stores it (a root-only file under /run, gone at reboot together with
// every array) and hands every unit's back on each call.
type Record struct {
	Version int    `json:"version"`
	Unit    string `json:"unit"`
	// Before is what the last before-start saw; the after-start that
	// follows takes it to tell the arrays this start made.
	Before *Snapshot `json:"before,omitempty"`
	Starts []Start   `json:"starts"`
}

// Snapshot is the namespace at a before-start.
type Snapshot struct {
	Time time.Time `json:"time"`
	// IPCNS is the inode of the IPC namespace it was taken in: a record
	// speaks only of that namespace's arrays.
	IPCNS  uint64  `json:"ipc_namespace"`
	SemIDs []int32 `json:"semids"` // every array then, of any owner
	// Apache are the masters and orphans alive then: one that is not
	// there then and runs at after-start started meanwhile.
	Apache []sysvipc.ProcessID `json:"apache"`
	// Ticks is the newest start (clock ticks after boot) of any process
	// then: a process that started later is new to the after-start.
	Ticks uint64 `json:"ticks"`
}

// Start is one start of the unit as its after-start saw it: the master
// and the arrays that appeared during the start.
type Start struct {
	IPCNS  uint64            `json:"ipc_namespace"`
	Master sysvipc.ProcessID `json:"master"`
	// Shared are the master's anonymous shared mappings (its scoreboard):
	// an orphan that shares one is that master's fork.
	Shared   []uint64            `json:"shared,omitempty"`
	Recorded time.Time           `json:"recorded"`
	Arrays   []sysvipc.Witnessed `json:"arrays"`
}

// errRecord marks a record that cannot be used.
var errRecord = errors.New("unusable witness record")

func decodeRecord(unit string, b []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("%w: unit %s: %w", errRecord, unit, err)
	}
	switch {
	case r.Version != recordVersion:
		return Record{}, fmt.Errorf("%w: unit %s: version %d, want %d", errRecord, unit, r.Version, recordVersion)
	case r.Unit != unit:
		return Record{}, fmt.Errorf("%w: unit %s: the record names unit %q", errRecord, unit, r.Unit)
	}
	for i, s := range r.Starts {
		if s.Master.PID <= 0 {
			return Record{}, fmt.Errorf("%w: unit %s: start %d: master pid %d", errRecord, unit, i, s.Master.PID)
		}
	}
	return r, nil
}

func (r Record) encode() []byte {
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

// witnessed is one recorded array with the master of its start.
type witnessed struct {
	array  sysvipc.Witnessed
	master sysvipc.ProcessID
	shared []uint64
	unit   string
}

// book is every unit's records sorted out against one census: the arrays
// of starts whose master is gone, and those of starts whose master runs.
type book struct {
	dead     map[int32]witnessed
	live     map[int32]string // semid to the unit whose live master recorded it
	records  map[string]Record
	problems []string // records that could not be used, and why
}

func newBook(encoded map[string][]byte) book {
	b := book{dead: map[int32]witnessed{}, live: map[int32]string{}, records: map[string]Record{}}
	for _, unit := range slices.Sorted(maps.Keys(encoded)) {
		r, err := decodeRecord(unit, encoded[unit])
		if err != nil {
			b.problems = append(b.problems, err.Error())
			continue
		}
		b.records[unit] = r
	}
	return b
}

// sort files each recorded array of the namespace ns under a live or a
// dead master, by the census. An array recorded under a live master
// anywhere is never dead. A start recorded in another IPC namespace (the
// host's records, judging a container's) says nothing of this one's
// arrays; one whose namespace was unknown (0) is used only where the
// current one is unknown too.
func (b *book) sort(census sysvipc.Census, ns uint64) {
	clear(b.dead)
	clear(b.live)
	for unit, r := range b.records {
		for _, s := range r.Starts {
			if s.IPCNS != ns {
				continue
			}
			alive := s.Master.Alive(census)
			for _, a := range s.Arrays {
				if alive {
					b.live[a.SemID] = unit
				} else {
					b.dead[a.SemID] = witnessed{array: a, master: s.Master, shared: s.Shared, unit: unit}
				}
			}
		}
	}
	for id := range b.live {
		delete(b.dead, id)
	}
}

// deadMasters are the pids of the recorded masters that are gone, with
// their shared mappings: an orphan in such a group that shares one is a
// unit's own leftover (a pid, and so a group number, may be reused).
func (b book) deadMasters() map[int][]uint64 {
	out := map[int][]uint64{}
	for _, w := range b.dead {
		out[w.master.PID] = append(out[w.master.PID], w.shared...)
	}
	return out
}

// judge applies the record to one classification: an array a live master
// recorded is live; one a dead master recorded, unchanged, is judged by
// the witness rules, without minimum age and whatever else runs.
func (b book) judge(c sysvipc.Classification, j sysvipc.Judge) sysvipc.Classification {
	if _, ok := b.live[c.Array.SemID]; ok {
		return sysvipc.WitnessedLive(c)
	}
	w, ok := b.dead[c.Array.SemID]
	if !ok || c.Verdict == sysvipc.Stale || c.Detail == nil || !w.array.Same(c.Array) {
		return c
	}
	return j.Witnessed(c.Array, *c.Detail, w.master)
}
