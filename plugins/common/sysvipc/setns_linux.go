//go:build linux

package sysvipc

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// InNamespace runs fn with the IPC namespace of pid: on a goroutine locked
// to an OS thread that joins the namespace (setns) and is thrown away when
// fn returns, so no other goroutine ever runs in it. fn gets a
// single-threaded FS: its reads and semctl calls stay on that thread
// (/proc/sysvipc and the *_INFO calls answer for the reader's namespace).
// A process that exits first gives ErrNamespaceGone.
func (fs FS) InNamespace(pid int, fn func(FS) error) error {
	path := fs.Path(fmt.Sprint(pid), "ns", "ipc")
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine ends, the runtime ends the
		// thread instead of reusing it in the wrong namespace.
		runtime.LockOSThread()
		// A panic here would escape the caller's recover: hand it back.
		defer func() {
			if p := recover(); p != nil {
				errc <- fmt.Errorf("panic in ipc namespace of pid %d: %v", pid, p)
			}
		}()
		f, err := os.Open(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				errc <- fmt.Errorf("%w: %s: %w", ErrNamespaceGone, path, err)
				return
			}
			errc <- fmt.Errorf("could not open %s: %w", path, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWIPC); err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		inside := fs
		inside.single = true
		errc <- fn(inside)
	}()
	return <-errc
}
