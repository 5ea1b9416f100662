package ipctest

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
)

// ChildNamespace is a process in an IPC namespace of its own, as a
// container's init would be: it holds the namespace, with its own
// kernel.sem and arrays left behind by a process that exited.
type ChildNamespace struct {
	PID   int
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// StartChildNamespace starts `unshare --ipc` on the test binary, which
// sets kernel.sem to sem (SEMMSL SEMMNS SEMOPM SEMMNI), leaves `leaked`
// Apache-style arrays made by a uid process that exits, and waits until
// the test ends.
func StartChildNamespace(t testing.TB, sem [4]int, leaked int, uid uint32) *ChildNamespace {
	t.Helper()
	exe, err := WorldExecutable(t)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--ipc", exe, strconv.Itoa(sem[0]), strconv.Itoa(sem[1]), strconv.Itoa(sem[2]), strconv.Itoa(sem[3]),
		strconv.Itoa(leaked), strconv.FormatUint(uint64(uid), 10))
	stdin, line := startHelper(t, cmd, modeChildNamespace)
	if line != "ready\n" {
		t.Fatalf("child namespace did not come up: %q", line)
	}
	c := &ChildNamespace{PID: cmd.Process.Pid, cmd: cmd, stdin: stdin}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	return c
}

// childNamespace is the helper side: args are kernel.sem's four numbers,
// how many arrays to leak, and as which uid.
func childNamespace(args []string) error {
	if len(args) != 6 {
		return fmt.Errorf("child namespace wants kernel.sem (4), a count and a uid, got %q", args)
	}
	var n [6]int
	for i, a := range args {
		v, err := strconv.Atoi(a)
		if err != nil {
			return fmt.Errorf("child namespace argument %d %q: %w", i+1, a, err)
		}
		n[i] = v
	}
	sem, leaked, uid := n[:4], n[4], n[5]
	if err := SetSemLimits(sem[0], sem[1], sem[2], sem[3]); err != nil {
		return err
	}
	fill := exec.Command(os.Args[0], strconv.Itoa(leaked))
	fill.Env = append(os.Environ(), envHolder+"="+string(modeFill))
	fill.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	fill.Stderr = os.Stderr
	if err := fill.Run(); err != nil {
		return fmt.Errorf("fill as uid %d: %w", uid, err)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}
