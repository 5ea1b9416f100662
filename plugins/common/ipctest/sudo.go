package ipctest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// RunLogged runs cmd, logs its command line, exit code and output, and
// returns the output and exit code; it fails the test only when cmd
// cannot run at all.
func RunLogged(t testing.TB, cmd *exec.Cmd) (string, int) {
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

// ViaSudo sets up, inside the test's private mount namespace (Enter),
// what make install sets up for the monitoring user: a sudoers rule that
// lets the nagios user run program as root and nothing else, and empty
// /run and /var/log for the handler's default lock, records and audit
// log. It returns a runner that calls program as nagios through the real
// `sudo -n`.
func ViaSudo(t testing.TB, program string) func(args ...string) (string, int) {
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
	rule := fmt.Sprintf("nagios ALL=(root) NOPASSWD: %s\n", program)
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
		cmd := exec.Command("/usr/bin/sudo", append([]string{"-n", program}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Dir = "/"
		return RunLogged(t, cmd)
	}
}
