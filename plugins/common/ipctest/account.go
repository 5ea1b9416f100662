package ipctest

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// Account returns the uid and gid of a system user, adding it to copies
// of /etc/passwd and /etc/group bind-mounted in the test's private mount
// namespace when the host lacks it (Telegraf's package makes telegraf;
// the tests do not install that package, and never edit the host's).
func Account(t testing.TB, name string, uid int) (int, int) {
	t.Helper()
	if u, err := user.Lookup(name); err == nil {
		id, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return id, gid
	}
	for file, line := range map[string]string{
		"/etc/passwd": fmt.Sprintf("%s:x:%d:%d::/nonexistent:/usr/sbin/nologin\n", name, uid, uid),
		"/etc/group":  fmt.Sprintf("%s:x:%d:\n", name, uid),
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		copyPath := filepath.Join(t.TempDir(), filepath.Base(file))
		if err := os.WriteFile(copyPath, append(b, line...), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount(copyPath, file, "", unix.MS_BIND, ""); err != nil {
			t.Fatalf("bind %s: %v", file, err)
		}
		t.Cleanup(func() { _ = unix.Unmount(file, unix.MNT_DETACH) })
	}
	return uid, uid
}
