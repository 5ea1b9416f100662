package sysvipc

import (
	"io"
)

// ShmSegment is one row of /proc/sysvipc/shm. RSS and Swap stay 0 on
// kernels whose table lacks those columns (before 4.15).
type ShmSegment struct {
	Key    int32
	ShmID  int32
	Perms  uint32
	Size   uint64 // size in bytes
	CPID   int32  // creator pid
	LPID   int32  // last shmat/shmdt pid
	NAttch uint64
	UID    uint32
	GID    uint32
	CUID   uint32
	CGID   uint32
	ATime  int64
	DTime  int64
	CTime  int64
	RSS    uint64 // bytes resident
	Swap   uint64 // bytes swapped
}

var shmColumns = []column[ShmSegment]{
	int32Col("key", func(r *ShmSegment) *int32 { return &r.Key }),
	int32Col("shmid", func(r *ShmSegment) *int32 { return &r.ShmID }),
	octalCol("perms", func(r *ShmSegment) *uint32 { return &r.Perms }),
	uint64Col("size", func(r *ShmSegment) *uint64 { return &r.Size }),
	int32Col("cpid", func(r *ShmSegment) *int32 { return &r.CPID }),
	int32Col("lpid", func(r *ShmSegment) *int32 { return &r.LPID }),
	uint64Col("nattch", func(r *ShmSegment) *uint64 { return &r.NAttch }),
	uint32Col("uid", func(r *ShmSegment) *uint32 { return &r.UID }),
	uint32Col("gid", func(r *ShmSegment) *uint32 { return &r.GID }),
	uint32Col("cuid", func(r *ShmSegment) *uint32 { return &r.CUID }),
	uint32Col("cgid", func(r *ShmSegment) *uint32 { return &r.CGID }),
	int64Col("atime", func(r *ShmSegment) *int64 { return &r.ATime }),
	int64Col("dtime", func(r *ShmSegment) *int64 { return &r.DTime }),
	int64Col("ctime", func(r *ShmSegment) *int64 { return &r.CTime }),
	uint64Col("rss", func(r *ShmSegment) *uint64 { return &r.RSS }),
	uint64Col("swap", func(r *ShmSegment) *uint64 { return &r.Swap }),
}

// ShmSegments lists the shared memory segments of the reader's namespace.
func (fs FS) ShmSegments() ([]ShmSegment, error) {
	return readSysvipc(fs, "shm", parseShm)
}

func parseShm(r io.Reader, file string) ([]ShmSegment, error) {
	return parseTable(r, file, shmColumns, "key", "shmid", "size", "nattch", "uid")
}
