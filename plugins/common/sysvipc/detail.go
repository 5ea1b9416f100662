package sysvipc

import (
	"errors"
	"fmt"
)

// SemDetail is what semctl tells about one array beyond /proc/sysvipc/sem.
type SemDetail struct {
	SemID int32
	Key   int32
	UID   uint32
	Mode  uint32
	NSems uint64
	OTime int64
	CTime int64
	Value int // GETVAL of semaphore 0, the one Apache's mutexes use
	NCnt  int // processes waiting for an increase, over all semaphores
	ZCnt  int // processes waiting for zero, over all semaphores
	// PID is GETPID of semaphore 0: the last process to semop or SETVAL
	// it, as numbered in the reader's PID namespace; 0 when the array was
	// never operated on or the process is outside that namespace.
	PID int
}

// detailOf is the detail the listing already gives: identity, times and
// owner. A semid is never reused soon after removal (the kernel bumps a
// sequence number in it), so a probe of a vanished array fails with
// ErrGone instead of describing another one.
func detailOf(a SemArray) SemDetail {
	return SemDetail{SemID: a.SemID, Key: a.Key, UID: a.UID, Mode: a.Perms & 0o777, NSems: a.NSems, OTime: a.OTime, CTime: a.CTime}
}

// packedAnswer is what semctl adds to the listing, kept small: the live count
// holds one per array between the listing and the census.
type packedAnswer struct {
	value, ncnt, zcnt, pid int32
	err                    error
}

// fill copies the probe into d.
func (p packedAnswer) fill(d *SemDetail) {
	d.Value, d.NCnt, d.ZCnt, d.PID = int(p.value), int(p.ncnt), int(p.zcnt), int(p.pid)
}

// SemProber reads one array's detail; Kernel is the real one, tests of the
// classifier use a fake.
type SemProber interface {
	ProbeSem(a SemArray) (SemDetail, error)
}

// ErrNotLive means semctl detail was asked of a fixture tree: the kernel's
// arrays are not the ones its files list.
var ErrNotLive = errors.New("semctl detail needs a live procfs")

type fixtureProber struct{ root string }

func (p fixtureProber) ProbeSem(a SemArray) (SemDetail, error) {
	return SemDetail{}, fmt.Errorf("%w: semid %d of %s", ErrNotLive, a.SemID, p.root)
}

// Prober returns the kernel on a live procfs; on a fixture tree every probe
// fails with ErrNotLive, so its arrays classify unknown instead of being
// judged by the host's unrelated arrays of the same id.
func (fs FS) Prober() SemProber {
	if fs.live {
		return Kernel{}
	}
	return fixtureProber{root: fs.proc}
}
