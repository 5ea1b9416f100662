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
	// Classify judges the arrays; the live system keeps to one thread
	// inside a namespace.
	Classify([]sysvipc.SemArray, sysvipc.Census, sysvipc.Policy) []sysvipc.Classification
	// Enter runs fn with the system of pid's IPC namespace.
	Enter(pid int, fn func(System) error) error
	// Namespace is the inode of the IPC namespace it acts in (0: unknown).
	Namespace() uint64
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

// Census is the census of the processes in the namespace being judged.
func (l Live) Census() (sysvipc.Census, error) { return l.FS.NamespaceCensus() }

// Classify judges with the kernel's probes.
func (l Live) Classify(arrays []sysvipc.SemArray, c sysvipc.Census, pol sysvipc.Policy) []sysvipc.Classification {
	return l.FS.Classify(arrays, c, l.Kernel, pol)
}

// Enter runs fn inside pid's IPC namespace, on one thread.
func (l Live) Enter(pid int, fn func(System) error) error {
	return l.FS.InNamespace(pid, func(in sysvipc.FS) error { return fn(Live{FS: in}) })
}

// Namespace reads the inode of the calling thread's IPC namespace: inside
// Enter, the one entered.
func (l Live) Namespace() uint64 {
	n, err := l.FS.IPCNamespace("thread-self")
	if err != nil {
		return 0
	}
	return n
}
