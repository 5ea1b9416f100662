package soak

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// semIDs lists this namespace's semaphore arrays from /proc/sysvipc/sem.
func semIDs() map[int32]bool {
	b, err := os.ReadFile("/proc/sysvipc/sem")
	ids := map[int32]bool{}
	if err != nil {
		return ids
	}
	lines := strings.Split(string(b), "\n")
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		if id, err := strconv.ParseInt(f[1], 10, 32); err == nil {
			ids[int32(id)] = true
		}
	}
	return ids
}

// startTicks is a process's start time in clock ticks, which tells it
// from a later process with the same pid; 0 when it is gone or a zombie.
func startTicks(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "Z" {
		return 0
	}
	ticks, _ := strconv.ParseUint(f[19], 10, 64)
	return ticks
}

// same reports whether pid is still the process that started at ticks.
func same(pid int, ticks uint64) bool { return pid > 0 && ticks != 0 && startTicks(pid) == ticks }
