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
	var s Snapshot
	var err error
	if s.Sem, err = fs.LiveSemArrays(); err != nil {
		return Snapshot{}, err
	}
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
