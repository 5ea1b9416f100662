package leaks

import (
	"syscall"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// System is the IPC and process layer the remediator acts through: the
// kernel in the plugin, a fake in unit tests.
type System interface {
	SemArrays() ([]sysvipc.SemArray, error)
	Census() (sysvipc.Census, error)
	ProbeSem(sysvipc.SemArray) (sysvipc.SemDetail, error)
	StatSem(id int32) (sysvipc.SemArray, error)
	RemoveSem(id int32) error
	// Process re-reads one process; ok is false when it is gone.
	Process(pid int) (p *sysvipc.Process, ok bool, err error)
	Signal(pid int, sig syscall.Signal) error
}

// Live is the System of the namespace the plugin runs in.
type Live struct {
	sysvipc.FS
	sysvipc.Kernel
}

// NewLive opens /proc (or HOST_PROC).
func NewLive() (Live, error) {
	fs, err := sysvipc.NewDefaultFS()
	if err != nil {
		return Live{}, err
	}
	return Live{FS: fs}, nil
}

// SemArrays lists the arrays the fastest way the FS knows.
func (l Live) SemArrays() ([]sysvipc.SemArray, error) { return l.FS.LiveSemArrays() }

// Signal sends a signal.
func (Live) Signal(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }
