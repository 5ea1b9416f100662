package sysvipc

import (
	"io"
)

// MsgQueue is one row of /proc/sysvipc/msg.
type MsgQueue struct {
	Key    int32
	MsqID  int32
	Perms  uint32
	CBytes uint64 // bytes queued
	QNum   uint64 // messages queued
	LSPID  int32  // last msgsnd pid
	LRPID  int32  // last msgrcv pid
	UID    uint32
	GID    uint32
	CUID   uint32
	CGID   uint32
	STime  int64
	RTime  int64
	CTime  int64
}

var msgColumns = []column[MsgQueue]{
	int32Col("key", func(r *MsgQueue) *int32 { return &r.Key }),
	int32Col("msqid", func(r *MsgQueue) *int32 { return &r.MsqID }),
	octalCol("perms", func(r *MsgQueue) *uint32 { return &r.Perms }),
	uint64Col("cbytes", func(r *MsgQueue) *uint64 { return &r.CBytes }),
	uint64Col("qnum", func(r *MsgQueue) *uint64 { return &r.QNum }),
	int32Col("lspid", func(r *MsgQueue) *int32 { return &r.LSPID }),
	int32Col("lrpid", func(r *MsgQueue) *int32 { return &r.LRPID }),
	uint32Col("uid", func(r *MsgQueue) *uint32 { return &r.UID }),
	uint32Col("gid", func(r *MsgQueue) *uint32 { return &r.GID }),
	uint32Col("cuid", func(r *MsgQueue) *uint32 { return &r.CUID }),
	uint32Col("cgid", func(r *MsgQueue) *uint32 { return &r.CGID }),
	int64Col("stime", func(r *MsgQueue) *int64 { return &r.STime }),
	int64Col("rtime", func(r *MsgQueue) *int64 { return &r.RTime }),
	int64Col("ctime", func(r *MsgQueue) *int64 { return &r.CTime }),
}

// MsgQueues lists the message queues of the reader's namespace.
func (fs FS) MsgQueues() ([]MsgQueue, error) {
	return readSysvipc(fs, "msg", parseMsg)
}

func parseMsg(r io.Reader, file string) ([]MsgQueue, error) {
	return parseTable(r, file, msgColumns, "key", "msqid", "cbytes", "qnum", "uid")
}
