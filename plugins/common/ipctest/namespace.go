package ipctest

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// envInside names the test that the re-executed binary should run inside
// its new namespaces.
const envInside = "IPCWATCH_TEST_INSIDE_NS"

// Inside reports whether this process is the re-executed test binary in
// private namespaces.
func Inside() bool { return os.Getenv(envInside) != "" }

// Enter runs the calling top-level test again in a fresh IPC, PID and
// mount namespace (unshare --ipc --pid --fork --mount-proc) and reports
// its result. It returns true in the child, where the test body goes on;
// in the parent it returns false once the child has finished:
//
//	if !ipctest.Enter(t) { return }
//
// Without root it skips, except under CI=true, where a skipped
// end-to-end test would hide a broken machine, so it fails.
func Enter(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envInside) == t.Name() {
		return true
	}
	Require(t, os.Geteuid() == 0, "needs root to create namespaces")
	_, err := exec.LookPath("unshare")
	Require(t, err == nil, "needs unshare (util-linux)")
	args := []string{"--ipc", "--pid", "--fork", "--mount-proc", "--kill-child",
		os.Args[0], "-test.run", "^" + regexp.QuoteMeta(t.Name()) + "$", "-test.count=1", "-test.v"}
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
