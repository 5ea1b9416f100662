package ipctest

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
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
	cmd := exec.Command("unshare", "--ipc", exe)
	mode := fmt.Sprintf("ns:%d,%d,%d,%d:%d:%d", sem[0], sem[1], sem[2], sem[3], leaked, uid)
	stdin, line := startHelper(t, cmd, mode)
	if line != "ready\n" {
		t.Fatalf("child namespace did not come up: %q", line)
	}
	c := &ChildNamespace{PID: cmd.Process.Pid, cmd: cmd, stdin: stdin}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	return c
}

// childNamespace is the helper side: spec is "MSL,MNS,OPM,MNI:N:UID".
func childNamespace(spec string) error {
	parts := strings.Split(spec, ":")
	if len(parts) != 3 {
		return fmt.Errorf("child namespace spec %q", spec)
	}
	var sem [4]int
	for i, f := range strings.Split(parts[0], ",") {
		v, err := strconv.Atoi(f)
		if err != nil || i > 3 {
			return fmt.Errorf("child namespace kernel.sem %q", parts[0])
		}
		sem[i] = v
	}
	uid, err := strconv.Atoi(parts[2])
	if err != nil {
		return err
	}
	if err := SetSemLimits(sem[0], sem[1], sem[2], sem[3]); err != nil {
		return err
	}
	fill := exec.Command(os.Args[0])
	fill.Env = append(os.Environ(), envHolder+"=fill:"+parts[1])
	fill.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	fill.Stderr = os.Stderr
	if err := fill.Run(); err != nil {
		return fmt.Errorf("fill as uid %d: %w", uid, err)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}
