package sysvipc

import "errors"

var (
	// ErrFileParse wraps every malformed /proc file; the message names the
	// file, line and field.
	ErrFileParse = errors.New("error parsing file")
	// ErrNoSysVIPC means /proc/sysvipc is missing: a kernel built without
	// CONFIG_SYSVIPC, or a sandbox that hides it.
	ErrNoSysVIPC = errors.New("system v ipc not available")
	// ErrPermission marks per-object detail the caller may not read
	// (EACCES on a mode-600 array); it makes that object "unknown" and
	// never fails a whole snapshot.
	ErrPermission = errors.New("permission denied")
	// ErrGone means the object was removed between listing and probing.
	ErrGone = errors.New("object no longer exists")
)
