package safety

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// act is how Nagios calls the handler on a HARD CRITICAL.
var act = []string{"--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3"}

// handler runs the built ipcwatch-remediate as root with a private audit
// log and lock, and returns its output and exit code.
func handler(t *testing.T, args ...string) (string, int) {
	t.Helper()
	dir := t.TempDir()
	args = append(slices.Clone(args), "--audit-log", filepath.Join(dir, "audit.jsonl"), "--lock", filepath.Join(dir, "lock"))
	return runLogged(t, exec.Command(filepath.Join(binDir, "ipcwatch-remediate"), args...))
}

func runLogged(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s -> %d\n%s", strings.Join(cmd.Args, " "), code, out)
	return string(out), code
}

// viaSudo sets up, inside this test's private mount namespace, what make
// install sets up for the monitoring user: a sudoers rule that lets the
// nagios user run the built handler as root and nothing else, and empty
// /run and /var/log for the handler's default lock and audit log. It
// returns a runner that calls the handler as nagios through the real
// `sudo -n`.
func viaSudo(t *testing.T) func(args ...string) (string, int) {
	t.Helper()
	nagios, err := user.Lookup("nagios")
	if err != nil {
		t.Fatalf("the nagios user (Debian's nagios4-core makes it): %v", err)
	}
	uid, _ := strconv.Atoi(nagios.Uid)
	gid, _ := strconv.Atoi(nagios.Gid)
	for _, dir := range []string{"/run", "/var/log"} {
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
			t.Fatalf("tmpfs on %s: %v", dir, err)
		}
	}
	sudoers := t.TempDir()
	if err := os.Chmod(sudoers, 0o755); err != nil {
		t.Fatal(err)
	}
	rule := fmt.Sprintf("nagios ALL=(root) NOPASSWD: %s\n", filepath.Join(binDir, "ipcwatch-remediate"))
	if err := os.WriteFile(filepath.Join(sudoers, "ipcwatch"), []byte(rule), 0o440); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(sudoers, "/etc/sudoers.d", "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind the test's sudoers.d: %v", err)
	}
	t.Cleanup(func() {
		for _, dir := range []string{"/etc/sudoers.d", "/var/log", "/run"} {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command("/usr/bin/sudo", append([]string{"-n", filepath.Join(binDir, "ipcwatch-remediate")}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Dir = "/"
		return runLogged(t, cmd)
	}
}

// wantArrays fails unless every id still exists.
func wantArrays(t *testing.T, ids []int32, what string) {
	t.Helper()
	now := ipctest.SemIDs(t)
	for _, id := range ids {
		if !slices.Contains(now, id) {
			t.Errorf("semid %d (%s) was removed", id, what)
		}
	}
}
