package soak

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// oomLimit is the memory cgroup limit of the OOM instance: room for
// Apache and its workers, far short of the gigabyte a /hog/ request asks.
const oomLimit = 96 << 20

// oomInstance is the Apache started in a memory cgroup of its own, with
// the rewrite map that allocates a gigabyte for each request to /hog/.
type oomInstance struct {
	in   *instance
	cg   *ipctest.MemoryCgroup
	kmsg *kmsg // the kernel's log from the run's start; nil if unreadable
}

// setupOOMInstance adds the instance the OOM killer takes: with or
// without the hooks as the seed draws.
func (s *soak) setupOOMInstance() {
	cg := ipctest.NewMemoryCgroup(s.t, oomLimit)
	in := &instance{name: "apache-soak-oom", hooked: s.rng(5).IntN(2) == 0}
	in.ap = ipctest.NewApacheWith(s.t, ipctest.ApacheOptions{Cgroup: cg.Dir, MemoryHog: true})
	s.instances = append(s.instances, in)
	k, err := openKmsg()
	if err != nil {
		s.t.Logf("the kernel's log is unreadable (%v): OOM kills are told by the cgroup's oom_kill count alone", err)
	}
	s.oom = &oomInstance{in: in, cg: cg, kmsg: k}
	s.t.Logf("instance %s: hooks %v, memory cgroup %s limited to %d MiB", in.name, in.hooked, cg.Dir, oomLimit>>20)
}

// oomKill is the fault oom_kill (or, when the OOM instance is down, its
// start): a request to /hog/ pushes the running OOM instance's cgroup
// past its limit, and the kernel's OOM killer
// kills its processes, Apache's first (oom_score_adj 1000 on each
// apache2, 0 on the map program and its pipe). The server is then
// killed as a SIGKILL would, its arrays leaked. The soak checks that
// the kernel did it (the cgroup's oom_kill count, and each OOM kill in
// the kernel's log chose within the cgroup) and kills nothing itself
// but what is left in the cgroup.
func (s *soak) oomKill() {
	o := s.oom
	if o == nil {
		return
	}
	in := o.in
	s.mu.Lock()
	if in.busy {
		s.mu.Unlock()
		return
	}
	if !in.running {
		// Down: started now, for the next draw of the fault.
		s.mu.Unlock()
		s.start(in)
		return
	}
	in.busy = true
	master, ticks := in.master, in.masterTicks
	s.mu.Unlock()

	for _, pid := range o.cg.Procs() {
		adj := "0"
		if comm(pid) == "apache2" {
			adj = "1000"
		}
		if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte(adj), 0); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ESRCH) {
			s.violate(false, "oom_score_adj of %d: %v", pid, err)
		}
	}
	before := o.oomKills()
	go func() { _, _ = in.ap.Get("/hog/x") }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && (same(master, ticks) || len(o.apacheProcs()) > 0) {
		time.Sleep(20 * time.Millisecond)
	}
	after := o.oomKills()
	records := o.kmsg.oomKills(filepath.Base(o.cg.Dir))

	s.mu.Lock()
	in.busy = false
	if same(master, ticks) {
		s.mu.Unlock()
		s.violate(false, "the OOM killer spared the master %d of %s for 20 s after a /hog/ request (oom_kill %d to %d)", master, in.name, before, after)
		return
	}
	// Any apache2 the OOM killer left is an orphan of the dead master.
	for _, pid := range o.apacheProcs() {
		if t := startTicks(pid); t != 0 {
			s.orphans[pid] = t
			s.everOrphan[orphanID{pid, t}] = true
		}
	}
	s.markDownLocked(in)
	s.mu.Unlock()
	s.fig.fault("oom_kill")
	if after <= before {
		s.violate(false, "the master %d of %s died after a /hog/ request, but the cgroup's oom_kill count stayed %d", master, in.name, after)
	}
	for _, r := range records {
		if !r.inCgroup {
			s.violate(false, "an OOM kill of the instance's cgroup chose a process outside it: %s", r.line)
		}
	}
	if o.kmsg != nil && len(records) == 0 {
		s.violate(false, "the master %d of %s died after a /hog/ request, and the kernel's log shows no OOM kill in its cgroup", master, in.name)
	}
	s.fig.add(&s.fig.oomKilled, len(records))
	for i, r := range records {
		if i < 3 {
			s.t.Logf("kernel: %s", r.line)
		}
	}
}

// apacheProcs are the cgroup's apache2 processes.
func (o *oomInstance) apacheProcs() []int {
	var out []int
	for _, pid := range o.cg.Procs() {
		if comm(pid) == "apache2" && startTicks(pid) != 0 {
			out = append(out, pid)
		}
	}
	return out
}

// oomKills is the cgroup's count of OOM kills: oom_kill in v1's
// memory.oom_control or in v2's memory.events.
func (o *oomInstance) oomKills() int {
	for _, name := range []string{"memory.oom_control", "memory.events"} {
		b, err := os.ReadFile(filepath.Join(o.cg.Dir, name))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if n, ok := strings.CutPrefix(line, "oom_kill "); ok {
				v, _ := strconv.Atoi(n)
				return v
			}
		}
	}
	return -1
}

// comm is a process's command name, "" when it is gone.
func comm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}

// kmsg reads the kernel's log (/dev/kmsg) from where it stood when
// opened: the OOM killer's own account of each kill. A raw descriptor:
// it must stay non-blocking.
type kmsg struct{ fd int }

func openKmsg() (*kmsg, error) {
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if _, err := syscall.Seek(fd, 0, 2); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return &kmsg{fd: fd}, nil
}

// oomRecord is one OOM kill the kernel logged for a memory cgroup.
type oomRecord struct {
	line     string // the kernel's oom-kill: line
	inCgroup bool   // the process killed was in that cgroup
}

// oomKills reads the new records and returns the OOM kills whose
// limit was the cgroup named name (the last element of its path).
func (k *kmsg) oomKills(name string) []oomRecord {
	if k == nil {
		return nil
	}
	var out []oomRecord
	buf := make([]byte, 16<<10)
	for {
		n, err := syscall.Read(k.fd, buf)
		if errors.Is(err, syscall.EPIPE) {
			continue // records overwritten before they were read
		}
		if err != nil || n <= 0 {
			return out
		}
		_, msg, ok := strings.Cut(string(buf[:n]), ";")
		if !ok {
			continue
		}
		msg, _, _ = strings.Cut(msg, "\n")
		rest, ok := strings.CutPrefix(msg, "oom-kill:")
		if !ok {
			continue
		}
		fields := map[string]string{}
		for _, kv := range strings.Split(rest, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				fields[k] = v
			}
		}
		if filepath.Base(fields["oom_memcg"]) != name {
			continue
		}
		out = append(out, oomRecord{line: msg, inCgroup: filepath.Base(fields["task_memcg"]) == name})
	}
}
