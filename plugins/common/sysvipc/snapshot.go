package sysvipc

import "time"

// Snapshot is the whole inventory and the limits, read together.
type Snapshot struct {
	Sem    []SemArray
	Shm    []ShmSegment
	Msg    []MsgQueue
	Limits Limits
	Taken  time.Time
}

// Snapshot reads the three tables and the limits; the semaphore arrays
// come from LiveSemArrays.
func (fs FS) Snapshot() (Snapshot, error) {
	if err := fs.Available(); err != nil {
		return Snapshot{}, err
	}
	arrays, err := fs.LiveSemArrays()
	if err != nil {
		return Snapshot{}, err
	}
	return fs.snapshotWith(arrays)
}

// SnapshotCounts is Snapshot with the semaphore arrays judged as they are
// listed (AssessLiveCounts): a collector that reports counts, not arrays,
// lists them once.
func (fs FS) SnapshotCounts(pol Policy) (Snapshot, Assessment, error) {
	if err := fs.Available(); err != nil {
		return Snapshot{}, Assessment{}, err
	}
	arrays, a, err := fs.listAndCount(pol)
	if err != nil {
		return Snapshot{}, Assessment{}, err
	}
	s, err := fs.snapshotWith(arrays)
	return s, a, err
}

// snapshotWith reads the rest of a snapshot beside arrays listed already.
func (fs FS) snapshotWith(arrays []SemArray) (Snapshot, error) {
	s := Snapshot{Sem: arrays}
	var err error
	if s.Shm, err = fs.ShmSegments(); err != nil {
		return Snapshot{}, err
	}
	if s.Msg, err = fs.MsgQueues(); err != nil {
		return Snapshot{}, err
	}
	if s.Limits, err = fs.Limits(); err != nil {
		return Snapshot{}, err
	}
	s.Taken = time.Now()
	return s, nil
}

// Usage counts the snapshot's objects, the way the files would.
func (s Snapshot) Usage() Usage {
	return countUsage(s.Sem, s.Shm, s.Msg, 4096)
}
