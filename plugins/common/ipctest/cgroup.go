package ipctest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MemoryCgroup is a memory cgroup of a test's own, with a hard limit: a
// unit's MemoryMax (cgroup v2) or MemoryLimit (v1). The kernel's OOM
// killer, when a process in it allocates past the limit, chooses among
// its processes only. At cleanup every process left in it is killed and
// it is removed.
type MemoryCgroup struct {
	Dir string
}

// NewMemoryCgroup makes a memory cgroup beside or under the test's own
// (v1's memory hierarchy, or v2's unified one), limited to limit bytes
// with no swap. It skips (fails under CI) where neither is writable.
func NewMemoryCgroup(t testing.TB, limit int64) *MemoryCgroup {
	t.Helper()
	dir, files, err := memoryCgroupDir()
	Require(t, err == nil, fmt.Sprintf("needs a writable memory cgroup: %v", err))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("make the memory cgroup: %v", err)
	}
	c := &MemoryCgroup{Dir: dir}
	t.Cleanup(func() {
		if err := c.KillAll(); err != nil {
			t.Errorf("memory cgroup %s: %v", dir, err)
		}
		_ = os.Remove(dir)
	})
	for i, name := range files {
		value := strconv.FormatInt(limit, 10)
		if name == "memory.swappiness" || name == "memory.swap.max" {
			value = "0" // no swap
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0); err != nil && i == 0 {
			t.Fatalf("set %s: %v", name, err)
		}
	}
	return c
}

// memoryCgroupDir picks where the test's memory cgroup goes, and the
// files of its limit and its swap.
func memoryCgroupDir() (string, []string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	name := fmt.Sprintf("ipcwatch-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	var unified string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = parts[2]
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				root := filepath.Join("/sys/fs/cgroup/memory", parts[2])
				if _, err := os.Stat(filepath.Join(root, "memory.limit_in_bytes")); err == nil {
					// memsw (memory and swap together) exists only with
					// swap accounting; swappiness 0 is the fallback.
					return filepath.Join(root, name), []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.swappiness"}, nil
				}
			}
		}
	}
	// v2: a sibling of the test's own cgroup, which has processes and so
	// may not enable controllers for children of its own.
	parent := filepath.Dir(filepath.Join("/sys/fs/cgroup", unified))
	ctl, err := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
	if err != nil || !slices.Contains(strings.Fields(string(ctl)), "memory") {
		return "", nil, fmt.Errorf("no v1 memory hierarchy, and %s does not delegate memory (%v)", parent, err)
	}
	return filepath.Join(parent, name), []string{"memory.max", "memory.swap.max"}, nil
}

// Diagnose says what the cgroup's memory files and the machine's swap
// read: why a process in it may have outgrown its limit without an OOM
// kill.
func (c *MemoryCgroup) Diagnose() string {
	var b strings.Builder
	for _, name := range []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.swappiness", "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.memsw.usage_in_bytes", "memory.failcnt", "memory.oom_control", "memory.max", "memory.swap.max", "memory.current", "memory.swap.current", "memory.events"} {
		if v, err := os.ReadFile(filepath.Join(c.Dir, name)); err == nil {
			fmt.Fprintf(&b, "%s: %s\n", name, strings.Join(strings.Fields(string(v)), " "))
		}
	}
	swaps, _ := os.ReadFile("/proc/swaps")
	fmt.Fprintf(&b, "/proc/swaps: %s\n", strings.Join(strings.Fields(string(swaps)), " "))
	for _, pid := range c.Procs() {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		var rss, state string
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "State:") {
				if l[0] == 'V' {
					rss = strings.Join(strings.Fields(l)[1:], " ")
				} else {
					state = strings.Join(strings.Fields(l)[1:], " ")
				}
			}
		}
		adj, _ := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid))
		fmt.Fprintf(&b, "pid %d %q: state %s, rss %s, oom_score_adj %s\n", pid, strings.ReplaceAll(string(cmd), "\x00", " "), state, rss, strings.TrimSpace(string(adj)))
	}
	return b.String()
}

// Procs lists the processes in the cgroup, as this PID namespace numbers
// them.
func (c *MemoryCgroup) Procs() []int {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "cgroup.procs"))
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// SetOOMScoreAdj sets oom_score_adj of every process in the cgroup: 1000
// makes them the OOM killer's first choice.
func (c *MemoryCgroup) SetOOMScoreAdj(adj int) error {
	for _, pid := range c.Procs() {
		err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), []byte(strconv.Itoa(adj)), 0)
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("oom_score_adj of %d: %w", pid, err)
		}
	}
	return nil
}

// KillAll SIGKILLs every process in the cgroup and waits until it is
// empty, 10 s at most.
func (c *MemoryCgroup) KillAll() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := c.Procs()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still in it", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
