package ipctest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// envRole names the host a re-executed test plays (StartHost).
const envRole = "IPCWATCH_TEST_HOST"

// hostLine starts the lines a host sends to the test that started it.
const hostLine = "host| "

// Role is the host this process plays in a test of several hosts: "" for
// the test itself, the name given to StartHost in a host it started.
func Role() string { return os.Getenv(envRole) }

// Host is one more machine for a test of several: the calling test run
// again, inside Enter's namespaces, in IPC, PID, network and mount
// namespaces of its own (unshare --ipc --pid --net --mount --fork
// --mount-proc), with Role() returning its name. It holds its network
// namespace from PID on, so the test can wire it up (ip link ... netns
// PID). The host talks back with Tell; it ends when the test calls Finish,
// which closes its standard input (Await's end) and wants its pass.
type Host struct {
	Name string
	PID  int

	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	out   []string
	lines chan string
	done  chan struct{}
}

// StartHost starts host name; env adds variables to its environment.
// Call it only inside Enter's namespaces.
func StartHost(t *testing.T, name string, env ...string) *Host {
	t.Helper()
	if !Inside() {
		t.Fatal("StartHost outside Enter's namespaces")
	}
	args := []string{"--ipc", "--pid", "--net", "--mount", "--fork", "--mount-proc", "--kill-child",
		os.Args[0], "-test.run", "^" + regexp.QuoteMeta(t.Name()) + "$", "-test.count=1", "-test.v"}
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, envRole+"=") }),
		append(env, envRole+"="+name)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &Host{Name: name, PID: cmd.Process.Pid, cmd: cmd, stdin: stdin, lines: make(chan string, 64), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for sc := bufio.NewScanner(stdout); sc.Scan(); {
			line := sc.Text()
			h.mu.Lock()
			h.out = append(h.out, line)
			h.mu.Unlock()
			if msg, ok := strings.CutPrefix(line, hostLine); ok {
				h.lines <- msg
			}
		}
	}()
	t.Cleanup(func() { _ = h.stop() })
	// unshare makes its namespaces (one unshare call) before it forks the
	// test: until then its pid is still in this host's network namespace.
	self, _ := os.Readlink("/proc/self/ns/net")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", h.PID)); err == nil && ns != self {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host %s: unshare made no namespaces in 10s", name)
		}
	}
	return h
}

// Await returns the host's next Tell, or an error when the host ends or
// the time is up first.
func (h *Host) Await(limit time.Duration) (string, error) {
	select {
	case msg := <-h.lines:
		return msg, nil
	case <-h.done:
		return "", fmt.Errorf("host %s ended:\n%s", h.Name, h.Output())
	case <-time.After(limit):
		return "", fmt.Errorf("host %s said nothing for %s", h.Name, limit)
	}
}

// Output is everything the host printed so far.
func (h *Host) Output() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.out, "\n")
}

// Finish ends the host and fails the test unless the host's own checks
// passed; the host's output goes to the test's log.
func (h *Host) Finish(t *testing.T) {
	t.Helper()
	err := h.stop()
	for _, line := range strings.Split(h.Output(), "\n") {
		t.Log(h.Name + "| " + line)
	}
	if err != nil {
		t.Errorf("host %s: %v", h.Name, err)
	} else if !strings.Contains(h.Output(), "--- PASS: "+t.Name()) {
		t.Errorf("host %s did not report a pass", h.Name)
	}
}

func (h *Host) stop() error {
	if h.stdin == nil {
		return nil
	}
	h.stdin.Close()
	h.stdin = nil
	<-h.done
	return h.cmd.Wait()
}

// Tell sends a line to the test that started this host.
func Tell(format string, args ...any) {
	fmt.Printf(hostLine+format+"\n", args...)
}

// AwaitEnd blocks until the test that started this host calls Finish.
func AwaitEnd() { _, _ = io.Copy(io.Discard, os.Stdin) }
