package ipctest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// InheritedUser is a program that is not Apache whose array outlives the
// process that made it: a creator running as some user makes an Apache-
// looking array (IPC_PRIVATE, one semaphore, SETVAL 1), starts a child
// of the same user after a delay and exits; the child goes on using the
// array. Nothing alive made it, yet it is in use.
type InheritedUser struct {
	ID         int32
	CreatorPID int
	ChildPID   int
	creator    *exec.Cmd
	stdin      io.WriteCloser
	stdout     *bufio.Reader
}

// StartInheritedUser starts the creator as uid and returns once the child
// runs and the creator is gone. childDelay sets how much older the array
// is than the child.
func StartInheritedUser(t testing.TB, uid uint32, childDelay time.Duration) *InheritedUser {
	t.Helper()
	return startInherited(t, &syscall.Credential{Uid: uid, Gid: uid}, childDelay.String())
}

// StartHandedUser is the same with a root creator that hands the array
// to owner (IPC_SET, as Apache does with its mutexes: cuid 0) and starts
// the child as owner: a root daemon with workers of another user.
func StartHandedUser(t testing.TB, owner uint32, childDelay time.Duration) *InheritedUser {
	t.Helper()
	return startInherited(t, nil, childDelay.String(), strconv.FormatUint(uint64(owner), 10))
}

func startInherited(t testing.TB, cred *syscall.Credential, args ...string) *InheritedUser {
	t.Helper()
	uid := uint32(0)
	if cred != nil {
		uid = cred.Uid
	}
	exe, err := WorldExecutable(t)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	stdin, stdout, line := startHelperLines(t, cmd, modeInheritCreator)
	u := &InheritedUser{CreatorPID: cmd.Process.Pid, creator: cmd, stdin: stdin, stdout: stdout}
	t.Cleanup(u.stop)
	id, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("creator as uid %d printed %q", uid, line)
	}
	u.ID = int32(id)
	// The child's ready line comes through the same pipe, which it
	// inherited; the creator exits right after starting it.
	line, err = stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("child of creator %d printed nothing: %v", u.CreatorPID, err)
	}
	if u.ChildPID, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		t.Fatalf("child of creator %d printed %q", u.CreatorPID, line)
	}
	if err := waitGone(u.CreatorPID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return u
}

// Use asks the child to lock and unlock the array once. It returns nil
// when the array is usable, else the semop error (errors.Is EINVAL once
// the array is removed). Not for concurrent use.
func (u *InheritedUser) Use() error {
	if _, err := io.WriteString(u.stdin, "use\n"); err != nil {
		return fmt.Errorf("ask child %d: %w", u.ChildPID, err)
	}
	line, err := u.stdout.ReadString('\n')
	if err != nil {
		return fmt.Errorf("child %d did not answer: %w", u.ChildPID, err)
	}
	line = strings.TrimSpace(line)
	if line == "ok" {
		return nil
	}
	if n, ok := strings.CutPrefix(line, "errno "); ok {
		if errno, err := strconv.Atoi(n); err == nil {
			return fmt.Errorf("semop semid %d in child %d: %w", u.ID, u.ChildPID, syscall.Errno(errno))
		}
	}
	return fmt.Errorf("child %d: %s", u.ChildPID, line)
}

// stop ends the child (end of its stdin) and reaps the creator; the
// array stays, as the other holders' do.
func (u *InheritedUser) stop() {
	if u.stdin == nil {
		return
	}
	_ = u.stdin.Close()
	if u.ChildPID > 0 {
		_ = waitGone(u.ChildPID, 5*time.Second)
	}
	_ = u.creator.Wait()
	u.stdin = nil
}

// waitGone waits until pid exited (a zombie counts: the reaper may be
// the namespace's init, the test binary, which never reaps strangers).
func waitGone(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d still alive after %v", pid, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// inheritCreator is modeInheritCreator: args are the delay before the
// child starts and, for a root creator, the uid to hand the array and
// the child to. It prints the array's id.
func inheritCreator(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return fmt.Errorf("creator wants a delay and maybe an owner, got %q", args)
	}
	delay, err := time.ParseDuration(args[0])
	if err != nil {
		return err
	}
	id, err := SemGet(0, 1, 0o600)
	if err != nil {
		return err
	}
	if err := SemSetVal(id, 0, 1); err != nil {
		return err
	}
	var owner *syscall.Credential
	if len(args) == 2 {
		uid, err := strconv.ParseUint(args[1], 10, 32)
		if err != nil {
			return err
		}
		if err := SemChown(id, uint32(uid), uint32(uid)); err != nil {
			return err
		}
		owner = &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}
	}
	fmt.Println(id)
	// The array's ctime ends up this much before the child's start: the
	// user is younger than the array, as a restarted worker would be.
	time.Sleep(delay)
	child := exec.Command(os.Args[0], strconv.Itoa(int(id)))
	child.Env = append(os.Environ(), envHolder+"="+string(modeInheritChild))
	// The test talks to the child through the creator's own pipes.
	child.Stdin, child.Stdout, child.Stderr = os.Stdin, os.Stdout, os.Stderr
	if owner != nil {
		child.SysProcAttr = &syscall.SysProcAttr{Credential: owner}
	}
	// No Wait: the creator exits and the child is reparented.
	return child.Start()
}

// inheritChild is modeInheritChild: args are the semid. It prints its
// pid, then for each line read does semop -1 and +1, both with SEM_UNDO
// as APR does, and answers "ok" or "errno N".
func inheritChild(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("child wants a semid, got %q", args)
	}
	id, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	fmt.Println(os.Getpid())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		reply := "ok"
		if err := lockUnlock(int32(id)); err != nil {
			var errno syscall.Errno
			if !errors.As(err, &errno) {
				return err
			}
			reply = fmt.Sprintf("errno %d", int(errno))
		}
		fmt.Println(reply)
	}
	return in.Err()
}

func lockUnlock(id int32) error {
	if err := SemOp(id, 0, -1); err != nil {
		return err
	}
	return SemOp(id, 0, 1)
}
