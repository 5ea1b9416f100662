package sysvipc

import (
	"errors"
	"fmt"
	"strconv"
)

// Scope is which IPC namespaces a face reads: the one it runs in (the
// zero Scope), the one of a process (PID, a container's Apache), or every
// namespace on the host (All).
type Scope struct {
	PID int
	All bool
}

// Each calls fn once per namespace of the scope, with an FS that reads
// that namespace: this one first under All, and a namespace whose process
// exits before it is entered is skipped (a container that stopped has
// nothing left to report). An error from fn ends the walk, labelled with
// the namespace; fn returns nil to go on past a namespace it only logs.
// This is the one walk over namespaces; every face calls it.
func (fs FS) Each(s Scope, fn func(Namespace, FS) error) error {
	switch {
	case s.PID != 0:
		inode, err := fs.IPCNamespace(strconv.Itoa(s.PID))
		if err != nil {
			return fmt.Errorf("pid %d: %w", s.PID, err)
		}
		n := Namespace{Inode: inode, PID: s.PID}
		if err := fs.InNamespace(s.PID, func(in FS) error { return fn(n, in) }); err != nil {
			return fmt.Errorf("pid %d: %w", s.PID, err)
		}
		return nil
	case !s.All:
		n := Namespace{Self: true}
		if inode, err := fs.IPCNamespace("self"); err == nil {
			n.Inode = inode
		}
		return fn(n, fs)
	}
	nss, err := fs.Namespaces()
	if err != nil {
		return err
	}
	for _, n := range nss {
		if n.Self {
			err = fn(n, fs)
		} else {
			err = fs.InNamespace(n.PID, func(in FS) error { return fn(n, in) })
		}
		switch {
		case errors.Is(err, ErrNamespaceGone):
		case err != nil:
			return fmt.Errorf("%s: %w", n.Label(), err)
		}
	}
	return nil
}
