package soak

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
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

// reaped are the command names of the processes the soak reaps when they
// are left to it: Apache's and its map program's, php-fpm's and nginx's,
// whose parents died. None is a program the test started itself, so no
// exec.Cmd waits for it.
var reaped = map[string]bool{"apache2": true, "hog.sh": true, "head": true, "tail": true, "nginx": true}

// reapStrangers reaps the zombies left to this process, the PID
// namespace's init, as systemd reaps them on a host: otherwise a killed
// server's pids would stay taken and never be reused, as they are in a
// long run on a real host. It reads only this process's children.
func reapStrangers() {
	if os.Getpid() != 1 {
		return
	}
	for _, pid := range children(1) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if i < 0 || j < i {
			continue
		}
		name := string(b[i+1 : j])
		f := strings.Fields(string(b[j+1:]))
		if len(f) < 1 || f[0] != "Z" || !(reaped[name] || strings.HasPrefix(name, "php-fpm")) {
			continue
		}
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	}
}

// children lists a process's children, whichever of its threads forked
// them.
func children(pid int) []int {
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return nil
	}
	var out []int
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}
