package sysvipc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// DefaultMountPoint is where procfs is mounted on a normal host.
const DefaultMountPoint = "/proc"

// FS reads System V IPC state from a proc tree: the live procfs, or a
// directory of fixtures laid out like one.
type FS struct {
	proc string
	// live is true when proc is a real procfs: then the O(1) *_INFO
	// syscalls answer for the same IPC namespace the files show, and the
	// kernel can be asked instead of the files.
	live bool
	// single keeps all work on the calling goroutine's thread: set inside
	// InNamespace, where other threads are in another namespace.
	single bool
}

// NewFS returns an FS rooted at mountPoint.
func NewFS(mountPoint string) (FS, error) {
	info, err := os.Stat(mountPoint)
	if err != nil {
		return FS{}, fmt.Errorf("could not read %q: %w", mountPoint, err)
	}
	if !info.IsDir() {
		return FS{}, fmt.Errorf("mount point %q is not a directory", mountPoint)
	}
	var st unix.Statfs_t
	live := unix.Statfs(mountPoint, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
	return FS{proc: mountPoint, live: live}, nil
}

// NewDefaultFS returns an FS on HOST_PROC when set, else on /proc, the way
// Telegraf and gopsutil honour HOST_PROC in containers.
func NewDefaultFS() (FS, error) {
	if p := os.Getenv("HOST_PROC"); p != "" {
		return NewFS(p)
	}
	return NewFS(DefaultMountPoint)
}

// Live reports whether the FS is a real procfs (not a fixture tree).
func (fs FS) Live() bool { return fs.live }

// Path joins elements onto the mount point.
func (fs FS) Path(elem ...string) string {
	return filepath.Join(append([]string{fs.proc}, elem...)...)
}

// openSysvipc opens a file under /proc/sysvipc, turning a missing directory into
// ErrNoSysVIPC so the faces can say what is wrong instead of "no such file".
func (fs FS) openSysvipc(name string) (*os.File, error) {
	path := fs.Path("sysvipc", name)
	f, err := os.Open(path)
	if err == nil {
		return f, nil
	}
	if aerr := fs.Available(); aerr != nil {
		return nil, aerr
	}
	return nil, fmt.Errorf("could not open %s: %w", path, err)
}

// Available reports ErrNoSysVIPC when /proc/sysvipc is missing, so a face
// can say that before it reads anything else.
func (fs FS) Available() error {
	path := fs.Path("sysvipc")
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s is missing (kernel without CONFIG_SYSVIPC or a sandbox hiding it)", ErrNoSysVIPC, path)
		}
		return fmt.Errorf("could not read %s: %w", path, err)
	}
	return nil
}

// readSysvipc opens /proc/sysvipc/NAME and parses it. (Reading ahead in a
// goroutine, to format rows in the kernel while parsing, measured no gain
// on the 2-vCPU benchmark machine and was dropped.)
func readSysvipc[T any](fs FS, name string, parse func(io.Reader, string) ([]T, error)) ([]T, error) {
	f, err := fs.openSysvipc(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f, f.Name())
}

// workers is how many goroutines one read may use.
// Threads is how many threads may read and probe through the FS at once:
// one inside InNamespace, where only the calling thread is in the
// namespace.
func (fs FS) Threads() int { return fs.workers() }

func (fs FS) workers() int {
	if fs.single {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}
