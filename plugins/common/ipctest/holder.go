package ipctest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// envHolder makes the test binary act as a holder process (see HelperMain).
const envHolder = "IPCWATCH_TEST_HOLDER"

// HelperMain must be the first call of TestMain in packages that use
// StartHolder: in a holder process it does the holder's work and exits.
func HelperMain() {
	mode := os.Getenv(envHolder)
	if mode == "" {
		return
	}
	run, ok := helperModes[helperMode(mode)]
	if !ok {
		fmt.Fprintf(os.Stderr, "holder: unknown mode %q\n", mode)
		os.Exit(2)
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "holder:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// fill creates n Apache-style mutexes (its one argument) and exits,
// leaving them as a crashed server would: the benchmarks' 32,000 leaked
// arrays.
func fill(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("fill wants a count, got %q", args)
	}
	count, err := strconv.Atoi(args[0])
	if err != nil {
		return fmt.Errorf("fill count %q: %w", args[0], err)
	}
	for range count {
		id, err := SemGet(0, 1, 0o600)
		if err != nil {
			return err
		}
		if err := SemSetVal(id, 0, 1); err != nil {
			return err
		}
	}
	return nil
}

// hold creates an Apache-style mutex (IPC_PRIVATE, one semaphore, SETVAL
// 1), locks it when asked, prints its id and waits for stdin to close. It
// leaves the array behind, as a crashed program would.
func hold(lock bool) error {
	id, err := SemGet(0, 1, 0o600)
	if err != nil {
		return err
	}
	if err := SemSetVal(id, 0, 1); err != nil {
		return err
	}
	if lock {
		if err := SemOp(id, 0, -1); err != nil {
			return err
		}
	}
	fmt.Println(id)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// Holder is a live process, running as some user, that made one array.
type Holder struct {
	ID    int32
	PID   int
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// StartHolder starts a holder as uid; with lock it keeps the array locked
// (value 0), else it only set it up (value 1, last pid its own).
func StartHolder(t testing.TB, uid uint32, lock bool) *Holder {
	t.Helper()
	mode := modeHold
	if lock {
		mode = modeHoldLocked
	}
	exe, err := WorldExecutable(t)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	stdin, line := startHelper(t, cmd, mode)
	id, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("holder as uid %d printed %q", uid, line)
	}
	h := &Holder{ID: int32(id), PID: cmd.Process.Pid, cmd: cmd, stdin: stdin}
	t.Cleanup(h.Stop)
	return h
}

// Stop ends the holder; its array stays.
func (h *Holder) Stop() {
	if h.stdin != nil {
		_ = h.stdin.Close()
		_ = h.cmd.Wait()
		h.stdin = nil
	}
}

// WorldExecutable copies the test binary where any user may run it: go
// test builds it in a root-only directory, and holders run as other users.
func WorldExecutable(t testing.TB) (string, error) {
	t.Helper()
	// Not t.TempDir: its parent directory is private to root.
	dir, err := os.MkdirTemp("", "ipcwatch-exe-")
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	src, err := os.Open(os.Args[0])
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst := filepath.Join(dir, filepath.Base(os.Args[0]))
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return "", err
	}
	return dst, f.Close()
}

// startHelper starts cmd (the test binary, or a wrapper around it) as a
// helper in mode and returns its stdin, which keeps it alive until
// closed, and the first line it printed, which says it is ready.
func startHelper(t testing.TB, cmd *exec.Cmd, mode helperMode) (io.WriteCloser, string) {
	t.Helper()
	stdin, _, line := startHelperLines(t, cmd, mode)
	return stdin, line
}

// startHelperLines is startHelper for a process that goes on talking: it
// also returns the reader its later lines come from.
func startHelperLines(t testing.TB, cmd *exec.Cmd, mode helperMode) (io.WriteCloser, *bufio.Reader, string) {
	t.Helper()
	cmd.Env = append(os.Environ(), envHolder+"="+string(mode))
	cmd.Stderr = os.Stderr
	stdin, out := StartPiped(t, cmd)
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatalf("helper %s printed nothing: %v", mode, err)
	}
	return stdin, out, line
}

// StartPiped starts cmd with its stdin and stdout piped to the test and
// returns them.
func StartPiped(t testing.TB, cmd *exec.Cmd) (io.WriteCloser, *bufio.Reader) {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	return stdin, bufio.NewReader(stdout)
}

// Fill makes n leaked Apache-style arrays as uid from a process that then
// exits (the fill helper): owned by uid, last touched by a dead pid.
func Fill(t testing.TB, n int, uid uint32) {
	t.Helper()
	exe, err := WorldExecutable(t)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, strconv.Itoa(n))
	cmd.Env = append(os.Environ(), envHolder+"="+string(modeFill))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fill %d arrays as uid %d: %v: %s", n, uid, err, out)
	}
}
