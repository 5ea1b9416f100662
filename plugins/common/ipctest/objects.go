package ipctest

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	setVal = 16
	msgSnd = unix.SYS_MSGSND
)

// SemGet creates a semaphore array (semget with IPC_CREAT|IPC_EXCL).
func SemGet(key int32, nsems int, mode uint32) (int32, error) {
	r, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(key), uintptr(nsems), uintptr(unix.IPC_CREAT|unix.IPC_EXCL|mode))
	if errno != 0 {
		return 0, fmt.Errorf("semget key %d nsems %d: %w", key, nsems, errno)
	}
	return int32(r), nil
}

// SemSetVal sets semaphore num (SETVAL), which records the caller as the
// last pid, as Apache's APR does right after semget.
func SemSetVal(id int32, num, val int) error {
	_, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), uintptr(num), setVal, uintptr(val), 0, 0)
	if errno != 0 {
		return fmt.Errorf("semctl SETVAL semid %d: %w", id, errno)
	}
	return nil
}

type sembuf struct {
	Num uint16
	Op  int16
	Flg int16
}

// SemOp applies one operation to semaphore num, with SEM_UNDO as APR uses.
func SemOp(id int32, num int, op int16) error {
	b := sembuf{Num: uint16(num), Op: op, Flg: 0x1000}
	_, _, errno := unix.Syscall(unix.SYS_SEMOP, uintptr(id), uintptr(unsafe.Pointer(&b)), 1)
	if errno != 0 {
		return fmt.Errorf("semop semid %d op %d: %w", id, op, errno)
	}
	return nil
}

// SemRemove removes an array.
func SemRemove(id int32) error {
	_, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID, 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("semctl IPC_RMID semid %d: %w", id, errno)
	}
	return nil
}

// ShmGet creates a segment of size bytes.
func ShmGet(key int32, size int, mode uint32) (int32, error) {
	id, err := unix.SysvShmGet(int(key), size, unix.IPC_CREAT|unix.IPC_EXCL|int(mode))
	if err != nil {
		return 0, fmt.Errorf("shmget key %d size %d: %w", key, size, err)
	}
	return int32(id), nil
}

// MsgGet creates a message queue.
func MsgGet(key int32, mode uint32) (int32, error) {
	r, _, errno := unix.Syscall(unix.SYS_MSGGET, uintptr(key), uintptr(unix.IPC_CREAT|unix.IPC_EXCL|mode), 0)
	if errno != 0 {
		return 0, fmt.Errorf("msgget key %d: %w", key, errno)
	}
	return int32(r), nil
}

// MsgSend queues one message of type 1 with the given text.
func MsgSend(id int32, text string) error {
	buf := make([]byte, 8+len(text))
	*(*int64)(unsafe.Pointer(&buf[0])) = 1
	copy(buf[8:], text)
	_, _, errno := unix.Syscall6(msgSnd, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(text)), unix.IPC_NOWAIT, 0, 0)
	if errno != 0 {
		return fmt.Errorf("msgsnd msqid %d: %w", id, errno)
	}
	return nil
}

// SetSemLimits writes kernel.sem for the current IPC namespace, so a test
// can reach exhaustion with a few arrays.
func SetSemLimits(msl, mns, opm, mni int) error {
	v := fmt.Sprintf("%d %d %d %d\n", msl, mns, opm, mni)
	if err := os.WriteFile("/proc/sys/kernel/sem", []byte(v), 0o644); err != nil {
		return fmt.Errorf("set kernel.sem to %q: %w", v, err)
	}
	return nil
}

// SemChown hands an array to another user, as Apache hands its mutexes to
// User: IPC_STAT, then IPC_SET with the new uid and gid. Only uid and gid
// are changed; they follow the key in struct ipc64_perm on every 64-bit
// architecture Linux has.
func SemChown(id int32, uid, gid uint32) error {
	// The 64-bit semctl always speaks struct semid64_ds (no IPC_64 flag).
	var ds [256]byte
	if _, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_STAT, uintptr(unsafe.Pointer(&ds[0])), 0, 0); errno != 0 {
		return fmt.Errorf("semctl IPC_STAT semid %d: %w", id, errno)
	}
	*(*uint32)(unsafe.Pointer(&ds[4])) = uid
	*(*uint32)(unsafe.Pointer(&ds[8])) = gid
	if _, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_SET, uintptr(unsafe.Pointer(&ds[0])), 0, 0); errno != 0 {
		return fmt.Errorf("semctl IPC_SET semid %d: %w", id, errno)
	}
	return nil
}

// SemIDs lists the semids of this namespace's arrays, in the kernel's
// order, from /proc/sysvipc/sem (read directly: test support uses no
// product package, and these tests check that package).
func SemIDs(t testing.TB) []int32 {
	t.Helper()
	b, err := os.ReadFile("/proc/sysvipc/sem")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int32
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 {
			continue
		}
		id, err := strconv.ParseInt(f[1], 10, 32)
		if err != nil {
			t.Fatalf("/proc/sysvipc/sem line %d: semid %q: %v", i+1, f[1], err)
		}
		ids = append(ids, int32(id))
	}
	return ids
}

// Gone fails the test unless every id is gone (want true) or still there
// (want false); when says at which point of the scenario.
func Gone(t testing.TB, ids []int32, want bool, when string) {
	t.Helper()
	now := SemIDs(t)
	for _, id := range ids {
		if slices.Contains(now, id) == want {
			if want {
				t.Errorf("%s: semid %d is still there", when, id)
			} else {
				t.Errorf("%s: semid %d was removed", when, id)
			}
		}
	}
}

// WaitOlder waits until every array of this namespace was last changed or
// used more than age ago by the kernel's own times, which count whole
// seconds: then a rule that compares times with some slack sees them as
// older than what happens next. It returns at once when they already are.
func WaitOlder(t testing.TB, age time.Duration) {
	t.Helper()
	b, err := os.ReadFile("/proc/sysvipc/sem")
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	cols := strings.Fields(lines[0])
	otime, ctime := slices.Index(cols, "otime"), slices.Index(cols, "ctime")
	if otime < 0 || ctime < 0 {
		t.Fatalf("/proc/sysvipc/sem has no otime and ctime columns: %q", lines[0])
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		for _, i := range []int{otime, ctime} {
			if i < len(f) {
				if v, err := strconv.ParseInt(f[i], 10, 64); err == nil {
					last = max(last, v)
				}
			}
		}
	}
	// A time of second s was written before s+1.
	time.Sleep(time.Until(time.Unix(last+1, 0).Add(age)))
}

// PastSlack is more than the classifier's 2 s slack for clock
// granularity: what WaitOlder waits for between two events the rules
// order by time.
const PastSlack = 3 * time.Second

// WorldReadableDir makes a temporary directory that other users may read
// (the tests run programs as www-data, nagios and telegraf), removed when
// the test ends.
func WorldReadableDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
