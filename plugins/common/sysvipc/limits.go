package sysvipc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// SEMVMX is the largest value a semaphore can hold; the kernel fixes it at
// compile time (include/uapi/linux/sem.h), so no file reports it.
const SEMVMX = 32767

// Limits are the kernel's System V IPC limits for the reader's namespace.
type Limits struct {
	SEMMSL int64 // semaphores per array
	SEMMNS int64 // semaphores in all arrays
	SEMOPM int64 // operations per semop call
	SEMMNI int64 // arrays
	SEMVMX int64
	SHMMAX uint64 // bytes per segment
	SHMALL uint64 // pages in all segments
	SHMMNI int64  // segments
	MSGMAX int64  // bytes per message
	MSGMNB int64  // bytes per queue
	MSGMNI int64  // queues
	// Source says where the numbers came from: "/proc/sys/kernel" or
	// "ipc_info" when /proc/sys was unreadable.
	Source string
}

// Limits reads /proc/sys/kernel/{sem,shm*,msg*}. On a live procfs whose
// /proc/sys cannot be read (some sandboxes mask it), it falls back to the
// IPC_INFO calls, which report the same numbers.
func (fs FS) Limits() (Limits, error) {
	l, err := fs.limitsFromFiles()
	if err == nil || !fs.live || !errors.Is(err, os.ErrPermission) && !errors.Is(err, os.ErrNotExist) {
		return l, err
	}
	kl, kerr := KernelLimits()
	if kerr != nil {
		return Limits{}, fmt.Errorf("%w (and ipc_info: %w)", err, kerr)
	}
	return kl, nil
}

func (fs FS) limitsFromFiles() (Limits, error) {
	l := Limits{SEMVMX: SEMVMX, Source: "/proc/sys/kernel"}
	sem, err := fs.readSysFile("sem")
	if err != nil {
		return Limits{}, err
	}
	if l.SEMMSL, l.SEMMNS, l.SEMOPM, l.SEMMNI, err = parseKernelSem(bytes.NewReader(sem), fs.Path("sys", "kernel", "sem")); err != nil {
		return Limits{}, err
	}
	for _, f := range []struct {
		name string
		set  func([]byte) error
	}{
		{"shmmax", func(b []byte) (err error) { l.SHMMAX, err = parseUint64(b); return }},
		{"shmall", func(b []byte) (err error) { l.SHMALL, err = parseUint64(b); return }},
		{"shmmni", func(b []byte) (err error) { l.SHMMNI, err = parseInt64(b); return }},
		{"msgmax", func(b []byte) (err error) { l.MSGMAX, err = parseInt64(b); return }},
		{"msgmnb", func(b []byte) (err error) { l.MSGMNB, err = parseInt64(b); return }},
		{"msgmni", func(b []byte) (err error) { l.MSGMNI, err = parseInt64(b); return }},
	} {
		b, err := fs.readSysFile(f.name)
		if err != nil {
			return Limits{}, err
		}
		v := bytes.TrimSpace(b)
		if err := f.set(v); err != nil {
			return Limits{}, fmt.Errorf("%w: %s: invalid value %q: %w", ErrFileParse, fs.Path("sys", "kernel", f.name), v, err)
		}
	}
	return l, nil
}

// readSysFile reads a small /proc/sys/kernel file with a bounded read:
// procfs reports a size of 0, so os.ReadFile's size hint is useless.
func (fs FS) readSysFile(name string) ([]byte, error) {
	path := fs.Path("sys", "kernel", name)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("could not read %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("could not read %s: %w", path, err)
	}
	return b, nil
}

// parseKernelSem parses /proc/sys/kernel/sem: "SEMMSL SEMMNS SEMOPM SEMMNI".
func parseKernelSem(r io.Reader, file string) (msl, mns, opm, mni int64, err error) {
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("%w: %s: %w", ErrFileParse, file, err)
	}
	fields := bytes.Fields(b)
	names := [...]string{"SEMMSL", "SEMMNS", "SEMOPM", "SEMMNI"}
	if len(fields) != len(names) {
		return 0, 0, 0, 0, fmt.Errorf("%w: %s: want 4 fields (SEMMSL SEMMNS SEMOPM SEMMNI), got %d", ErrFileParse, file, len(fields))
	}
	var v [4]int64
	for i, f := range fields {
		if v[i], err = strconv.ParseInt(string(f), 10, 64); err != nil {
			return 0, 0, 0, 0, fmt.Errorf("%w: %s: invalid %s %q: %w", ErrFileParse, file, names[i], f, err)
		}
	}
	return v[0], v[1], v[2], v[3], nil
}
