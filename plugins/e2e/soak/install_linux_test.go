package soak

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// installed is a make install tree in a temp root, as a host has it.
type installed struct {
	root string
	idle []int // the namespace's idle processes (startIdle)
}

func (i installed) handler() string { return filepath.Join(i.root, "usr/sbin/ipcwatch-remediate") }
func (i installed) check() string {
	return filepath.Join(i.root, "usr/lib/nagios/plugins/check_sysvipc")
}
func (i installed) shim() string { return filepath.Join(i.root, "usr/bin/ipcwatch-telegraf") }
func (i installed) shimConf() string {
	return filepath.Join(i.root, "etc/ipcwatch/telegraf-sysvipc.conf")
}

// install runs make install into a fresh root; tags, when given, build
// the programs with those build tags (GOFLAGS).
func install(t *testing.T, tags string) installed {
	t.Helper()
	root := ipctest.WorldReadableDir(t, "ipcwatch-soak-root-")
	cmd := exec.Command("make", "--no-print-directory", "-C", "../../..", "install", "PREFIX="+filepath.Join(root, "usr"),
		"SYSCONFDIR="+filepath.Join(root, "etc"), "BIN="+filepath.Join(root, "build"))
	if tags != "" {
		cmd.Env = append(os.Environ(), "GOFLAGS=-tags="+tags)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	return installed{root: root}
}

// asInstalledHost makes this test's private mount namespace look like the
// installed host: its sudoers rule in /etc/sudoers.d, empty /run and
// /var/log for the handler's lock, records and audit log, root's policy
// with min_age 0s (the soak's leaks are seconds old; through sudo nobody
// else can lower it), and the shim's config with min_age 0s.
func asInstalledHost(t *testing.T, in installed) {
	t.Helper()
	etc := filepath.Join(in.root, "etc")
	if err := os.WriteFile(filepath.Join(etc, "ipcwatch/remediate.conf"), []byte("min_age = \"0s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in.shimConf(), []byte("[[inputs.sysvipc]]\n  min_age = \"0s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"/run", "/var/log"} {
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
			t.Fatalf("tmpfs on %s: %v", dir, err)
		}
	}
	if err := unix.Mount(filepath.Join(etc, "sudoers.d"), "/etc/sudoers.d", "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind the installed sudoers.d: %v", err)
	}
	t.Cleanup(func() {
		for _, dir := range []string{"/etc/sudoers.d", "/var/log", "/run"} {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
}
