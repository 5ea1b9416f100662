//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package sysvipc

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Commands of semctl/shmctl/msgctl that golang.org/x/sys/unix does not
// define (include/uapi/linux/{ipc,sem,shm,msg}.h).
const (
	ipcInfo = 3
	getPID  = 11
	getVal  = 12
	getAll  = 13
	getNCnt = 14
	getZCnt = 15
	semInfo = 19
	shmInfo = 14
	msgInfo = 12
)

// seminfo is struct seminfo. For SEM_INFO the kernel puts the arrays in
// use in Semusz and the semaphores allocated in Semaem; for IPC_INFO those
// two fields are compile-time constants, which is why usage needs SEM_INFO.
type seminfo struct {
	Semmap, Semmni, Semmns, Semmnu, Semmsl, Semopm, Semume, Semusz, Semvmx, Semaem int32
}

// shmInfo is struct shm_info (SHM_INFO); totals are in pages.
type shmInfoT struct {
	UsedIDs       int32
	_             int32
	Tot           uint64
	RSS           uint64
	Swp           uint64
	SwapAttempts  uint64
	SwapSuccesses uint64
}

// shminfo64 is struct shminfo64 (IPC_INFO on shmctl).
type shminfo64 struct {
	Shmmax, Shmmin, Shmmni, Shmseg, Shmall uint64
	_                                      [4]uint64
}

// msginfo is struct msginfo. For MSG_INFO Msgpool holds the queues in use,
// Msgmap the messages and Msgtql the bytes queued.
type msginfo struct {
	Msgpool, Msgmap, Msgmax, Msgmnb, Msgmni, Msgssz, Msgtql int32
	Msgseg                                                  uint16
	_                                                       uint16
}

func semctl(id, num, cmd int, arg uintptr) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), uintptr(num), uintptr(cmd), arg, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

func ipcctl(trap uintptr, cmd int, buf unsafe.Pointer) error {
	_, _, errno := unix.Syscall(trap, 0, uintptr(cmd), uintptr(buf))
	if errno != 0 {
		return errno
	}
	return nil
}

// KernelUsage asks the kernel how many objects exist, in O(1): SEM_INFO,
// SHM_INFO and MSG_INFO count without walking the objects.
func KernelUsage() (Usage, error) {
	var si seminfo
	if _, err := semctl(0, 0, semInfo, uintptr(unsafe.Pointer(&si))); err != nil {
		return Usage{}, fmt.Errorf("semctl SEM_INFO: %w", err)
	}
	var hi shmInfoT
	if err := ipcctl(unix.SYS_SHMCTL, shmInfo, unsafe.Pointer(&hi)); err != nil {
		return Usage{}, fmt.Errorf("shmctl SHM_INFO: %w", err)
	}
	var mi msginfo
	if err := ipcctl(unix.SYS_MSGCTL, msgInfo, unsafe.Pointer(&mi)); err != nil {
		return Usage{}, fmt.Errorf("msgctl MSG_INFO: %w", err)
	}
	return Usage{
		SemArrays:   int64(si.Semusz),
		Semaphores:  int64(si.Semaem),
		ShmSegments: int64(hi.UsedIDs),
		ShmPages:    hi.Tot,
		ShmRSSPages: hi.RSS,
		ShmSwpPages: hi.Swp,
		MsgQueues:   int64(mi.Msgpool),
		Messages:    int64(mi.Msgmap),
		MsgBytes:    int64(mi.Msgtql),
		Source:      "kernel",
	}, nil
}

// KernelLimits reads the limits through IPC_INFO, for when /proc/sys is
// masked.
func KernelLimits() (Limits, error) {
	var si seminfo
	if _, err := semctl(0, 0, ipcInfo, uintptr(unsafe.Pointer(&si))); err != nil {
		return Limits{}, fmt.Errorf("semctl IPC_INFO: %w", err)
	}
	var hi shminfo64
	if err := ipcctl(unix.SYS_SHMCTL, ipcInfo, unsafe.Pointer(&hi)); err != nil {
		return Limits{}, fmt.Errorf("shmctl IPC_INFO: %w", err)
	}
	var mi msginfo
	if err := ipcctl(unix.SYS_MSGCTL, ipcInfo, unsafe.Pointer(&mi)); err != nil {
		return Limits{}, fmt.Errorf("msgctl IPC_INFO: %w", err)
	}
	return Limits{
		SEMMSL: int64(si.Semmsl), SEMMNS: int64(si.Semmns), SEMOPM: int64(si.Semopm), SEMMNI: int64(si.Semmni),
		SEMVMX: int64(si.Semvmx),
		SHMMAX: hi.Shmmax, SHMALL: hi.Shmall, SHMMNI: int64(hi.Shmmni),
		MSGMAX: int64(mi.Msgmax), MSGMNB: int64(mi.Msgmnb), MSGMNI: int64(mi.Msgmni),
		Source: "ipc_info",
	}, nil
}

// Kernel probes and removes semaphore arrays with semctl in the caller's
// IPC namespace.
type Kernel struct{}

// ProbeSem reads one array's detail: IPC_STAT, then per semaphore its
// value (GETALL), waiters (GETNCNT, GETZCNT) and the last pid of semaphore
// 0 (GETPID). Permission errors wrap ErrPermission, a vanished array
// ErrGone.
func (Kernel) ProbeSem(id int32) (SemDetail, error) {
	var ds semidDS
	if _, err := semctl(int(id), 0, unix.IPC_STAT, uintptr(unsafe.Pointer(&ds))); err != nil {
		return SemDetail{}, semErr("IPC_STAT", id, err)
	}
	d := SemDetail{
		SemID: id, Key: ds.Perm.Key, UID: ds.Perm.Uid, Mode: ds.Perm.Mode & 0o777,
		NSems: ds.Nsems, OTime: ds.Otime, CTime: ds.Ctime,
	}
	if ds.Nsems == 0 || ds.Nsems > 1<<16 {
		return d, fmt.Errorf("semid %d: implausible nsems %d", id, ds.Nsems)
	}
	vals := make([]uint16, ds.Nsems)
	if _, err := semctl(int(id), 0, getAll, uintptr(unsafe.Pointer(&vals[0]))); err != nil {
		return d, semErr("GETALL", id, err)
	}
	d.Values = vals
	for n := range int(ds.Nsems) {
		nc, err := semctl(int(id), n, getNCnt, 0)
		if err != nil {
			return d, semErr("GETNCNT", id, err)
		}
		zc, err := semctl(int(id), n, getZCnt, 0)
		if err != nil {
			return d, semErr("GETZCNT", id, err)
		}
		d.NCnt += nc
		d.ZCnt += zc
	}
	pid, err := semctl(int(id), 0, getPID, 0)
	if err != nil {
		return d, semErr("GETPID", id, err)
	}
	d.PID = pid
	return d, nil
}

// RemoveSem removes an array (IPC_RMID).
func (Kernel) RemoveSem(id int32) error {
	if _, err := semctl(int(id), 0, unix.IPC_RMID, 0); err != nil {
		return semErr("IPC_RMID", id, err)
	}
	return nil
}

func semErr(op string, id int32, err error) error {
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: semctl %s semid %d: %w", ErrPermission, op, id, err)
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EIDRM):
		return fmt.Errorf("%w: semctl %s semid %d: %w", ErrGone, op, id, err)
	}
	return fmt.Errorf("semctl %s semid %d: %w", op, id, err)
}
