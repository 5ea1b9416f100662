package sysvipc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/prometheus/procfs"
)

// userHZ is the clock tick /proc/<pid>/stat counts start times in. Linux
// fixes USER_HZ at 100 for userspace on every architecture Go supports;
// prometheus/procfs makes the same assumption.
const userHZ = 100

// Process is one entry of the process census.
type Process struct {
	PID, PPID, PGRP int
	Comm            string // from /proc/<pid>/stat, at most 15 bytes
	Exe             string // base name of /proc/<pid>/exe; "" when unreadable
	RUID, EUID      uint32
	Start           time.Time // wall time, to the clock tick
	Role            Role
}

// Role is what a process is to Apache.
type Role string

// The roles of the census.
const (
	RoleNone   Role = ""
	RoleMaster Role = "master" // the parent that creates the mutexes
	RoleWorker Role = "worker" // a child below a live master
	RoleOrphan Role = "orphan" // a child whose master died: it may still use the mutexes
)

// apacheNames are the process names Apache's server runs under on the
// distributions we know: Debian's apache2, Red Hat's httpd (and RHEL 6's
// httpd.worker/httpd.event), SUSE's httpd2-{prefork,worker,event}.
var apacheNames = []string{
	"apache2", "httpd", "httpd2", "httpd.worker", "httpd.event",
	"httpd2-prefork", "httpd2-worker", "httpd2-event", "httpd-prefork",
}

// IsApache reports whether the process runs an Apache server binary. The
// executable's name wins over comm, which a process can change.
func (p Process) IsApache() bool {
	name := p.Exe
	if name == "" {
		name = p.Comm
	}
	return slices.Contains(apacheNames, name)
}

// Census is a snapshot of the processes of the reader's PID namespace.
type Census struct {
	Procs map[int]*Process
	Taken time.Time
}

// Census reads every process under the mount point. Processes that exit
// while it reads are left out: they are gone either way.
func (fs FS) Census() (Census, error) {
	pfs, err := procfs.NewFS(fs.proc)
	if err != nil {
		return Census{}, fmt.Errorf("could not read processes under %s: %w", fs.proc, err)
	}
	stat, err := pfs.Stat()
	if err != nil {
		return Census{}, fmt.Errorf("could not read boot time from %s: %w", fs.Path("stat"), err)
	}
	boot := time.Unix(int64(stat.BootTime), 0)
	procs, err := pfs.AllProcs()
	if err != nil {
		return Census{}, fmt.Errorf("could not list processes under %s: %w", fs.proc, err)
	}
	c := Census{Procs: make(map[int]*Process, len(procs)), Taken: time.Now()}
	for _, p := range procs {
		st, err := p.Stat()
		if err != nil || st.State == "Z" {
			// A zombie holds nothing: its semaphore undo has run and it
			// only waits for its parent to reap it.
			continue
		}
		status, err := p.NewStatus()
		if err != nil {
			continue
		}
		exe, err := p.Executable()
		if err != nil && !errors.Is(err, os.ErrPermission) && !errors.Is(err, os.ErrNotExist) {
			continue
		}
		c.Procs[p.PID] = &Process{
			PID: p.PID, PPID: st.PPID, PGRP: st.PGRP,
			Comm: st.Comm, Exe: filepath.Base(exe),
			RUID: uint32(status.UIDs[0]), EUID: uint32(status.UIDs[1]),
			Start: boot.Add(time.Duration(st.Starttime) * time.Second / userHZ),
		}
		if exe == "" {
			c.Procs[p.PID].Exe = ""
		}
	}
	return c, nil
}

// AssignRoles marks Apache's masters, workers and orphans. A master runs as
// root, or leads its process group, or was started by a live non-Apache
// process group leader (a shell). A worker has an Apache ancestor. An
// orphan is an Apache process of an Apache user with no Apache ancestor
// whose process group leader (its dead master) is gone.
func (c Census) AssignRoles(apacheUIDs map[uint32]bool) {
	for _, p := range c.Procs {
		p.Role = RoleNone
		if !p.IsApache() {
			continue
		}
		switch {
		case c.hasApacheAncestor(p):
			p.Role = RoleWorker
		case p.EUID != 0 && p.PGRP != p.PID && c.Procs[p.PGRP] == nil && (apacheUIDs[p.EUID] || apacheUIDs[p.RUID]):
			p.Role = RoleOrphan
		default:
			p.Role = RoleMaster
		}
	}
}

func (c Census) hasApacheAncestor(p *Process) bool {
	seen := map[int]bool{p.PID: true}
	for pid := p.PPID; pid > 0 && !seen[pid]; {
		seen[pid] = true
		parent := c.Procs[pid]
		if parent == nil {
			return false
		}
		if parent.IsApache() {
			return true
		}
		pid = parent.PPID
	}
	return false
}

// WithRole lists the processes of one role, by pid.
func (c Census) WithRole(r Role) []*Process {
	var out []*Process
	for _, p := range c.Procs {
		if p.Role == r {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *Process) int { return a.PID - b.PID })
	return out
}
