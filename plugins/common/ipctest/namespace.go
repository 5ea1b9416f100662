package ipctest

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// envInside names the test that the re-executed binary should run inside
// its new namespaces.
const envInside = "IPCWATCH_TEST_INSIDE_NS"

// Inside reports whether this process is the re-executed test binary in
// private namespaces.
func Inside() bool { return os.Getenv(envInside) != "" }

// Enter runs the calling top-level test again in a fresh IPC, PID, network
// and mount namespace (unshare --ipc --pid --net --fork --mount-proc) and reports
// its result. It returns true in the child, where the test body goes on;
// in the parent it returns false once the child has finished:
//
//	if !ipctest.Enter(t) { return }
//
// Without root it skips, except under CI=true, where a skipped
// end-to-end test would hide a broken machine, so it fails. In the fast
// loop (go test -short, make check) it skips: make test runs everything.
func Enter(t *testing.T) bool {
	t.Helper()
	return enter(t, "--ipc", "--pid", "--net", "--fork", "--mount-proc", "--kill-child")
}

// EnterHostPID is Enter without the private PID namespace: the test's
// processes are numbered as the kernel's log and systemd number them
// (an OOM kill's "Killed process 1234"), and /proc is the host's. Such a
// test must kill only what it started (its own cgroup, its own process
// group), never by name, and reap everything at cleanup: --kill-child
// ends only the test, not what it left.
func EnterHostPID(t *testing.T) bool {
	t.Helper()
	t.Setenv(envHostPID, "1")
	return enter(t, "--ipc", "--net", "--mount", "--fork", "--kill-child")
}

// envHostPID marks a test that runs in the host's PID namespace, where
// KillAll refuses to run.
const envHostPID = "IPCWATCH_TEST_HOST_PID"

func enter(t *testing.T, flags ...string) bool {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: private namespaces and real programs are not in the fast loop (make check); make test runs it")
	}
	if os.Getenv(envInside) == t.Name() {
		if err := loopbackUp(); err != nil {
			t.Fatalf("bring up lo in the private network namespace: %v", err)
		}
		return true
	}
	Require(t, os.Geteuid() == 0, "needs root to create namespaces")
	_, err := exec.LookPath("unshare")
	Require(t, err == nil, "needs unshare (util-linux)")
	// A private network namespace too: Apache servers of tests running at
	// the same time in other packages can never collide on a port.
	args := append(flags, os.Args[0], "-test.run", "^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v")
	cmd := exec.Command("unshare", args...)
	// Without SUDO_*: a `sudo make test` must not make the programs under
	// test believe an unprivileged user called them through sudo.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "SUDO_") })
	cmd.Env = append(env, envInside+"="+t.Name())
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		t.Log("ns| " + line)
	}
	if err != nil {
		t.Fatalf("test in private namespaces failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("test in private namespaces did not report a pass")
	}
	return false
}

// Require skips the test when ok is false, or fails it under CI=true:
// end-to-end tests may not silently vanish in CI.
func Require(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot run under CI: %s", why)
	}
	t.Skip(why)
}

// loopbackUp sets IFF_UP on lo: a new network namespace starts with its
// loopback down.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
