package ipctest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ShiftBootTime makes /proc/stat's btime delta later, as procfs readers
// see it after the wall clock steps forward: every process then seems to
// have started delta later, while IPC times stay put. It bind-mounts a
// copy of /proc/stat over it until the test ends, so it is only allowed
// inside Enter (a private mount namespace with its own /proc). The copy
// is a snapshot: only btime is meant to be read from it. btime is whole
// seconds, so delta is truncated to seconds.
func ShiftBootTime(t testing.TB, delta time.Duration) {
	t.Helper()
	if !Inside() {
		t.Fatal("ShiftBootTime mounts over /proc/stat: call it only inside Enter")
	}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	shifted, err := shiftBtime(stat, int64(delta/time.Second))
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "stat")
	if err := os.WriteFile(copyPath, shifted, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(copyPath, "/proc/stat", "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mount over /proc/stat: %v", err)
	}
	// Registered after t.TempDir's removal, so it runs before it.
	t.Cleanup(func() {
		if err := unix.Unmount("/proc/stat", 0); err != nil {
			t.Errorf("unmount /proc/stat: %v", err)
		}
	})
}

// shiftBtime adds seconds to the "btime N" line.
func shiftBtime(stat []byte, seconds int64) ([]byte, error) {
	lines := bytes.Split(stat, []byte("\n"))
	for i, line := range lines {
		v, ok := bytes.CutPrefix(line, []byte("btime "))
		if !ok {
			continue
		}
		btime, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/stat btime %q: %w", v, err)
		}
		lines[i] = []byte("btime " + strconv.FormatInt(btime+seconds, 10))
		return bytes.Join(lines, []byte("\n")), nil
	}
	return nil, errors.New("/proc/stat has no btime line")
}
