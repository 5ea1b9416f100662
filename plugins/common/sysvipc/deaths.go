package sysvipc

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Cause is why a leaked generation's Apache died, as far as the host's
// logs tell.
type Cause string

const (
	CauseOOMKilled   Cause = "oom_killed"   // the kernel's OOM killer named one of its processes
	CauseStopTimeout Cause = "stop_timeout" // systemd's stop timed out and it sent SIGKILL to the unit
	CauseCrashed     Cause = "crashed"      // the kernel logged a fatal signal of one of its processes
	CauseKilled      Cause = "killed"       // systemd sent SIGKILL to one of its processes (systemctl kill)
	CauseUnknown     Cause = "unknown"      // no log names it, or the logs could not be read
)

// Causes lists every cause, in the order a generation takes the first
// that evidence shows.
var Causes = []Cause{CauseOOMKilled, CauseCrashed, CauseStopTimeout, CauseKilled, CauseUnknown}

// maxLogLine is how much of a log line a cause quotes.
const maxLogLine = 200

// Death is one log line that tells how a process died.
type Death struct {
	Cause Cause
	PID   int    // as the log numbers it (the initial PID namespace's)
	Comm  string // the process's name, when the line gives it
	Unit  string // the systemd unit, for journal lines
	At    time.Time
	Line  string // the line, at most 200 bytes, control characters as '?'
}

// Every pattern is anchored at the start of the kernel's message: what
// follows the kernel's own words (a file name in a trap line, a comm) is
// the user's to choose. The OOM killer's "oom-kill:...,task=COMM,pid=N"
// summary is not read: a comm with commas could name another pid in it,
// and the "Killed process" line of the same kill says the same.
var (
	// "Out of memory: Killed process 1234 (apache2) total-vm:..." (5.1 on),
	// "Memory cgroup out of memory: Killed process ...", and 4.x's second
	// line "Killed process 1234 (apache2) total-vm:...".
	oomKilled = regexp.MustCompile(`^(?:(?:Out of memory|Memory cgroup out of memory): )?Killed process (\d+) \(`)
	// 4.x and 5.0's first line: "Out of memory: Kill process 1234 (apache2) score 1 or sacrifice child".
	oomKill = regexp.MustCompile(`^(?:Out of memory|Memory cgroup out of memory): Kill process (\d+) \(`)
	// "apache2[1234]: segfault at 0 ip ... error 4 in mod_x.so[...]". The
	// name is the process's own (up to 15 bytes, 60 characters escaped)
	// and may hold "[77]: ": the pid is the last one before the kernel's
	// words.
	segfault = regexp.MustCompile(`^(.{1,60})\[(\d+)\]: segfault at `)
	// Older kernels' "httpd/888: potentially unexpected fatal signal 11.".
	fatalSignal = regexp.MustCompile(`^(.{1,60})/(\d+): potentially unexpected fatal signal `)
	// "traps: apache2[1234] general protection fault ip:..." or "... trap invalid opcode ...".
	trap = regexp.MustCompile(`^traps: (.{1,60})\[(\d+)\] (?:trap |general protection )`)
)

// maxEscapedComm is the longest a comm prints: 15 bytes, each \xNN.
const maxEscapedComm = 60

// unparsedComm stands for a name the line gives but that could not be
// read: it is not taken for Apache's.
const unparsedComm = "?"

// kernelFacility is syslog facility 0: the kernel's own records. A
// process writing to /dev/kmsg gets another (LOG_USER at least).
const kernelFacility = 0

// kernelDeath reads one kernel log message: an OOM kill or a crash, with
// the pid and, where the line gives it, the name.
func kernelDeath(msg string) (Cause, int, string, bool) {
	for _, rule := range []struct {
		re    *regexp.Regexp
		cause Cause
		pid   int
		comm  int // 0: the comm follows "(" after the match
	}{
		{oomKilled, CauseOOMKilled, 1, 0},
		{oomKill, CauseOOMKilled, 1, 0},
		{segfault, CauseCrashed, 2, 1},
		{fatalSignal, CauseCrashed, 2, 1},
		{trap, CauseCrashed, 2, 1},
	} {
		loc := rule.re.FindStringSubmatchIndex(msg)
		if loc == nil {
			continue
		}
		pid, err := strconv.Atoi(msg[loc[2*rule.pid]:loc[2*rule.pid+1]])
		if err != nil || pid <= 0 {
			return "", 0, "", false
		}
		comm := unparsedComm
		if rule.comm > 0 {
			comm = msg[loc[2*rule.comm]:loc[2*rule.comm+1]]
		} else {
			// "(comm) total-vm:" or "(comm) score": the comm may hold ')'
			// itself, so take the last ") " within its longest print.
			rest := msg[loc[1]:]
			if i := strings.LastIndex(rest[:min(len(rest), maxEscapedComm+2)], ") "); i >= 0 {
				comm = rest[:i]
			}
		}
		return rule.cause, pid, comm, true
	}
	return "", 0, "", false
}

// KernelDeaths picks the OOM kills and crashes out of the kernel's own
// records; boot is when the printk clock started (btime).
func KernelDeaths(log KernelLog, boot time.Time) []Death {
	var out []Death
	for _, r := range log.Records {
		if r.Priority>>3 != kernelFacility {
			continue
		}
		if cause, pid, comm, ok := kernelDeath(r.Message); ok {
			out = append(out, Death{Cause: cause, PID: pid, Comm: comm, At: boot.Add(r.Since), Line: quoteLine(r.Message)})
		}
	}
	return out
}

// quoteLine makes a log line safe to print and cuts it to 200 bytes on a
// rune boundary.
func quoteLine(s string) string {
	s = Printable(s)
	if len(s) <= maxLogLine {
		return s
	}
	cut := maxLogLine
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
