// Package capture records real /proc trees for the parser fixtures. It is
// a test (test support may only be imported by tests), outside ./... as
// every testdata directory is, so only `make fixtures` runs it, in a
// private IPC namespace (unshare --ipc) where it sees and creates only its
// own objects:
//
//	capture.test -test.run '^TestCapture$' -case idle    -out testdata/idle
//	capture.test -test.run '^TestCapture$' -case objects -out testdata/objects
package capture

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

var (
	which = flag.String("case", "", "idle, objects, or asuser (internal)")
	out   = flag.String("out", "", "directory to write the proc tree into")
)

// TestCapture records the fixture tree -case names into -out.
func TestCapture(t *testing.T) {
	if *which == "" {
		t.Skip("make fixtures passes -case and -out")
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
}

func run() error {
	switch *which {
	case "idle":
	case "objects":
		if err := makeObjects(); err != nil {
			return err
		}
	case "asuser":
		return makeUserObjects()
	default:
		return fmt.Errorf("unknown -case %q", *which)
	}
	return copyTree(*out)
}

// makeObjects creates a mix that exercises every column: keys at the edges
// of int32 (printed signed), multi-semaphore arrays, segments with data and
// queues holding messages, and objects of other owners.
func makeObjects() error {
	for _, key := range []int32{0, 0, 1, -1, 0x7fffffff, -0x80000000, 0x0badcafe} {
		id, err := ipctest.SemGet(key, 1, 0o600)
		if err != nil {
			return err
		}
		if err := ipctest.SemSetVal(id, 0, 1); err != nil {
			return err
		}
	}
	if _, err := ipctest.SemGet(0, 250, 0o666); err != nil {
		return err
	}
	for i, size := range []int{1, 4096, 1 << 20} {
		if _, err := ipctest.ShmGet(int32(0x5000+i), size, 0o640); err != nil {
			return err
		}
	}
	q, err := ipctest.MsgGet(0x6000, 0o600)
	if err != nil {
		return err
	}
	for _, m := range []string{"a", "bb", "hello world"} {
		if err := ipctest.MsgSend(q, m); err != nil {
			return err
		}
	}
	if _, err := ipctest.MsgGet(0, 0o600); err != nil {
		return err
	}
	// www-data (33) and nobody (65534) own some, as on a Debian web host.
	for _, uid := range []uint32{33, 33, 65534} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCapture$", "-case", "asuser")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("objects as uid %d: %w", uid, err)
		}
	}
	return nil
}

// makeUserObjects runs as another user: one Apache-style mutex.
func makeUserObjects() error {
	id, err := ipctest.SemGet(0, 1, 0o600)
	if err != nil {
		return err
	}
	return ipctest.SemSetVal(id, 0, 1)
}

func copyTree(out string) error {
	files := []string{
		"sysvipc/sem", "sysvipc/shm", "sysvipc/msg",
		"sys/kernel/sem", "sys/kernel/shmmax", "sys/kernel/shmall", "sys/kernel/shmmni",
		"sys/kernel/msgmax", "sys/kernel/msgmnb", "sys/kernel/msgmni",
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("/proc", f))
		if err != nil {
			return err
		}
		dst := filepath.Join(out, "proc", f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
	}
	fmt.Println("wrote", out, "("+strconv.Itoa(len(files))+" files)")
	return nil
}
