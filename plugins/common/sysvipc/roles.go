package sysvipc

import (
	"regexp"
	"slices"
	"strings"
	"sync"
)

// The Apache role rules: who is Apache, which role each Apache process
// plays, which orphan may be killed. Pure functions over a census that
// census.go read.

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

// IsApache reports whether the process may be an Apache server: it runs
// a binary of an Apache name, or it maps APR, whose mutexes these are (a
// copy of apache2 under another name, Apache under valgrind or ld.so, a
// prelinked "(deleted)" binary). Counting an APR program that is no
// Apache only keeps arrays from being stale.
func (p Process) IsApache() bool { return p.ApacheBinary() || p.APR }

// ApacheBinary reports whether the executable has an Apache server's
// name. Its name wins over comm, which a process can change.
func (p Process) ApacheBinary() bool {
	name := p.Exe
	if name == "" {
		name = p.Comm
	}
	return slices.Contains(apacheNames, name)
}

// phpFPMPath is where distributions install PHP-FPM: /usr/sbin/php-fpm
// (Red Hat, SUSE) or Debian's versioned /usr/sbin/php-fpm8.2. Only root
// can put a program there; a name alone (comm, or a copy elsewhere) is
// anyone's to choose.
// Compiled on first use, as containerIDPattern: most check runs never
// look.
var phpFPMPath = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^/usr/s?bin/php-fpm([0-9]+(\.[0-9]+)?)?$`)
})

// IsPHPFPM reports whether the process runs the installed PHP-FPM, known
// by its executable's whole path; an unreadable executable (another
// user's process, without root) is never taken for it.
func (p Process) IsPHPFPM() bool { return p.ExePath != "" && phpFPMPath().MatchString(p.ExePath) }

// Killable is an orphan positively identified as Apache: a certain orphan
// that both has an Apache name and maps APR (a renamed `sleep` is
// neither; an APR program that is no Apache lacks the name), and was not
// started in the foreground: a non-root `apache2 -X` or `-DFOREGROUND`
// whose launcher exited looks exactly like an orphaned worker, except
// for that. The orphans of a foreground master are then never killed
// either; they keep their arrays unknown, which is the safe side.
func (p Process) Killable() bool {
	return p.Role == RoleOrphan && p.CertainOrphan && p.ApacheBinary() && p.APR && !p.Foreground
}

// foregroundDefines keep Apache from detaching when defined with -D
// (-X defines DEBUG, which the MPMs read as one process).
var foregroundDefines = []string{"ONE_PROCESS", "FOREGROUND", "NO_DETACH", "DEBUG"}

// InForeground reports whether an Apache command line keeps the server
// in the foreground, or does not positively start a daemon; an unread
// command line (nil) counts as yes, so such a process is never killed.
func InForeground(args []string) bool {
	return args == nil || foregroundArgs(args) || !daemonArgs(args)
}

// daemonArgs finds `-k start` or `-k restart` (or -kstart): the command
// line of a server that detached and forks workers, which its workers
// inherit.
func daemonArgs(args []string) bool {
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "-kstart", "-krestart":
			return true
		case "-k":
			if i+1 < len(args) && (args[i+1] == "start" || args[i+1] == "restart") {
				return true
			}
		}
	}
	return false
}

// foregroundArgs finds -X or a foreground define in an Apache command
// line the way APR's getopt reads it: options may be clustered (-tX), and
// -D takes its name joined (-DFOREGROUND) or as the next argument (-D
// FOREGROUND, as apache2ctl and container images pass it). The options
// that take a value end a cluster.
func foregroundArgs(args []string) bool {
	for i := 1; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return false
		}
		if len(arg) < 2 || arg[0] != '-' || arg[1] == '-' {
			continue
		}
	cluster:
		for j := 1; j < len(arg); j++ {
			switch arg[j] {
			case 'X':
				return true
			case 'D', 'd', 'f', 'C', 'c', 'e', 'E', 'k', 'n':
				value := arg[j+1:]
				if value == "" && i+1 < len(args) {
					i++ // the value is the next argument
					value = args[i]
				}
				f := strings.Fields(value)
				switch {
				case arg[j] == 'D' && slices.Contains(foregroundDefines, value):
					return true
				case (arg[j] == 'C' || arg[j] == 'c') && len(f) >= 2 && strings.EqualFold(f[0], "Define") && slices.Contains(foregroundDefines, f[1]):
					// -C "Define FOREGROUND" (with or without a value)
					// defines it as -D does.
					return true
				}
				break cluster
			}
		}
	}
	return false
}

// SharesWith reports whether two processes share an anonymous shared
// mapping: forks of one process that made it before forking.
func (p Process) SharesWith(inodes []uint64) bool {
	for _, i := range p.Shared {
		if slices.Contains(inodes, i) {
			return true
		}
	}
	return false
}

// AssignRoles marks Apache's masters, workers and orphans. A worker has an
// Apache ancestor. A master runs as root, leads its own process group
// (daemonized, or started by systemd or runit), or has Apache children of
// its own: a process with live Apache children is a master, whoever runs
// it (a non-root `apache2 -DFOREGROUND` started inside another group).
// Any other Apache process of an Apache user is an orphan: a worker whose
// master died, or a master we cannot be sure of. Only an orphan whose
// process group leader (its dead master) is gone is Certain enough to be
// killed.
func (c Census) AssignRoles(apacheUIDs map[uint32]bool) {
	parents := map[int]bool{}
	for _, p := range c.Procs {
		if p.IsApache() {
			parents[p.PPID] = true
		}
	}
	for _, p := range c.Procs {
		p.Role, p.CertainOrphan = RoleNone, false
		if !p.IsApache() {
			continue
		}
		switch {
		case c.hasApacheAncestor(p):
			p.Role = RoleWorker
		case p.EUID != 0 && p.PGRP != p.PID && !parents[p.PID] && (apacheUIDs[p.EUID] || apacheUIDs[p.RUID]):
			p.Role = RoleOrphan
			p.CertainOrphan = c.Procs[p.PGRP] == nil
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
