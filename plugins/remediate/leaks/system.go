package leaks

import (
	"syscall"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// System is the layer of system calls the remediator acts through: the
// kernel and /proc in the plugin, a fake in unit tests. It holds no
// judgement: the verdicts and the re-check before a removal come from the
// core's classifier.
type System interface {
	sysvipc.SemProber                                          // semctl GETVAL, GETNCNT, GETZCNT, GETPID
	SemArrays() ([]sysvipc.SemArray, error)                    // semctl SEM_STAT_ANY over the table
	StatSem(id int32) (sysvipc.SemArray, error)                // semctl IPC_STAT
	RemoveSem(id int32) error                                  // semctl IPC_RMID
	Usage() (sysvipc.Usage, error)                             // SEM_INFO and friends: the counts
	Census(apacheUIDs map[uint32]bool) (sysvipc.Census, error) // /proc: this namespace's processes, roles assigned
	Process(pid int) (*sysvipc.Process, bool, error)           // /proc/<pid> again; ok false when gone
	Signal(pid int, sig syscall.Signal) error                  // kill
	// Enter runs fn with the system of pid's IPC namespace (setns).
	Enter(pid int, fn func(System) error) error
	// Namespace is the inode of the IPC namespace it acts in (0: unknown).
	Namespace() uint64
	// Threads is how many threads may probe at once (1 inside Enter).
	Threads() int
	// KeptBy names the processes of the census a tally's blockers are.
	KeptBy(t sysvipc.Tally, c sysvipc.Census) []sysvipc.Kept
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

// Usage counts through the FS (SEM_INFO on a live procfs).
func (l Live) Usage() (sysvipc.Usage, error) { return l.FS.Usage() }

// Signal sends a signal.
func (Live) Signal(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }

// Census is the census of the processes in the namespace being judged.
func (l Live) Census(apacheUIDs map[uint32]bool) (sysvipc.Census, error) {
	return l.FS.ApacheCensus(apacheUIDs)
}

// Enter runs fn inside pid's IPC namespace, on one thread, through the
// core's one walk over namespaces.
func (l Live) Enter(pid int, fn func(System) error) error {
	return l.FS.Each(sysvipc.Scope{PID: pid}, func(_ sysvipc.Namespace, in sysvipc.FS) error { return fn(Live{FS: in}) })
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
