package sysvipc

import "fmt"

// Usage counts what exists. From the kernel it costs O(1) whatever the
// number of objects; from files it is counted row by row.
type Usage struct {
	SemArrays   int64
	Semaphores  int64
	ShmSegments int64
	ShmPages    uint64 // pages allocated to all segments
	ShmRSSPages uint64
	ShmSwpPages uint64
	MsgQueues   int64
	Messages    int64
	MsgBytes    int64
	// Source is "kernel" for the *_INFO calls, "files" when counted from
	// a fixture tree.
	Source string
}

// Usage counts the namespace's objects. On a live procfs the kernel is
// asked (SEM_INFO, SHM_INFO, MSG_INFO): the reader's namespace is the one
// the files would show, and no table is read. On a fixture tree the rows
// are counted instead.
func (fs FS) Usage() (Usage, error) {
	if fs.live {
		return KernelUsage()
	}
	return fs.usageFromFiles()
}

func (fs FS) usageFromFiles() (Usage, error) {
	sems, err := fs.SemArrays()
	if err != nil {
		return Usage{}, err
	}
	shms, err := fs.ShmSegments()
	if err != nil {
		return Usage{}, err
	}
	msgs, err := fs.MsgQueues()
	if err != nil {
		return Usage{}, err
	}
	return countUsage(sems, shms, msgs, fs.pageSize()), nil
}

// pageSize is what SHM_INFO counts in; fixtures are taken on 4 KiB pages.
func (fs FS) pageSize() uint64 { return 4096 }

func countUsage(sems []SemArray, shms []ShmSegment, msgs []MsgQueue, page uint64) Usage {
	u := Usage{Source: "files", SemArrays: int64(len(sems)), ShmSegments: int64(len(shms)), MsgQueues: int64(len(msgs))}
	for _, s := range sems {
		u.Semaphores += int64(s.NSems)
	}
	for _, s := range shms {
		u.ShmPages += (s.Size + page - 1) / page
		u.ShmRSSPages += s.RSS / page
		u.ShmSwpPages += s.Swap / page
	}
	for _, m := range msgs {
		u.Messages += int64(m.QNum)
		u.MsgBytes += int64(m.CBytes)
	}
	return u
}

// String is a one-line summary for logs.
func (u Usage) String() string {
	return fmt.Sprintf("%d sem arrays (%d semaphores), %d shm segments, %d msg queues", u.SemArrays, u.Semaphores, u.ShmSegments, u.MsgQueues)
}
