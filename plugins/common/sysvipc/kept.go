package sysvipc

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// An array that is kept names the process that kept it and the one thing
// its operator can do. This file turns the blockers a tally counted into
// those groups and lines; every face prints them the same way.

// ProcessInfo is a process as a kept array's output names it.
type ProcessInfo struct {
	PID   int       `json:"pid"`
	UID   uint32    `json:"uid"`
	User  string    `json:"user"`
	Exe   string    `json:"exe,omitempty"` // "" when unreadable (another user's, without root)
	Start time.Time `json:"start"`
	// Cmdline is its command line, arguments joined by spaces and cut to
	// maxCmdline bytes.
	Cmdline string `json:"cmdline,omitempty"`
}

// maxCmdline is how much of a command line a kept line quotes.
const maxCmdline = 80

// Describe is p as the output names it; its command line is read now
// (/proc/<pid>/cmdline, world-readable), once per process named.
func (fs FS) Describe(p *Process) ProcessInfo {
	info := ProcessInfoOf(p)
	if b, err := os.ReadFile(fs.Path(strconv.Itoa(p.PID), "cmdline")); err == nil {
		if cmd := string(bytes.TrimRight(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), " ")); cmd != "" {
			info.Cmdline = shorten(Printable(cmd))
		}
	}
	return info
}

// ProcessInfoOf is p as the census has it, its command name standing in
// for the command line (as ps shows a process without one).
func ProcessInfoOf(p *Process) ProcessInfo {
	return ProcessInfo{PID: p.PID, UID: p.EUID, User: UserName(p.EUID), Exe: Printable(p.ExePath), Start: p.Start, Cmdline: "[" + Printable(p.Comm) + "]"}
}

// Printable replaces control characters (a newline, a carriage return,
// an escape sequence) with '?': a command line, a command name and even
// an executable's path are the process owner's to choose, and the lines
// that quote them go to Nagios, the journal and a terminal.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

// shorten cuts s to maxCmdline bytes on a rune boundary, marking the cut.
func shorten(s string) string {
	if len(s) <= maxCmdline {
		return s
	}
	cut := maxCmdline - 3
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func (i ProcessInfo) String() string {
	exe := i.Exe
	if exe == "" {
		exe = "executable unreadable"
	}
	return fmt.Sprintf("pid %d (%s, %s, started %s: %s)", i.PID, i.User, exe, i.Start.UTC().Format(time.RFC3339), i.Cmdline)
}

// BlockedBy is the process that keeps c from being proven stale: the
// blocker of an unknown verdict, or the live last user of a live one (a
// dead server's leftover process may be it). An array the running server
// made or changed after its start, or last used by that server's master
// or worker, is its own, kept by nobody.
func BlockedBy(c Classification) *Process {
	switch {
	case c.Verdict == Unknown:
		return c.Blocker
	case c.Verdict == Live && c.Reasons[0] == ReasonLastPIDAlive && c.Blocker != nil:
		if r := c.Blocker.Role; r == RoleMaster || r == RoleWorker {
			return nil
		}
		return c.Blocker
	}
	return nil
}

// Kept is the arrays one process keeps for one reason.
type Kept struct {
	Reason Reason      `json:"reason"`
	Arrays int         `json:"arrays"`
	By     ProcessInfo `json:"by"`
}

// KeptBy describes the blockers of a tally from the census they were
// judged against, most arrays first. A blocker the census lacks (a
// tally merged from another census) is left out.
func (fs FS) KeptBy(t Tally, c Census) []Kept { return KeptBy(t, c, fs.Describe) }

// KeptBy is FS.KeptBy with the processes described by describe.
func KeptBy(t Tally, c Census, describe func(*Process) ProcessInfo) []Kept {
	out := make([]Kept, 0, len(t.Blockers))
	for b, n := range t.Blockers {
		if p := c.Procs[b.PID]; p != nil {
			out = append(out, Kept{Reason: b.Reason, Arrays: n, By: describe(p)})
		}
	}
	SortKept(out)
	return out
}

// SortKept orders groups by arrays kept, then reason, then pid.
func SortKept(ks []Kept) {
	slices.SortFunc(ks, func(a, b Kept) int {
		return cmp.Or(b.Arrays-a.Arrays, strings.Compare(string(a.Reason), string(b.Reason)), a.By.PID-b.By.PID)
	})
}

// MaxKeptLines is how many blockers a face lists before "and N more".
const MaxKeptLines = 5

// KeptLines are the lines a face prints for kept arrays: one per
// blocker, at most max, then one "fix:" line per reason with the one
// thing the operator can do. policyFile is where neighbours are declared.
func KeptLines(ks []Kept, max int, policyFile string) []string {
	var lines []string
	for i, k := range ks {
		if i == max {
			more, arrays := len(ks)-max, 0
			for _, k := range ks[max:] {
				arrays += k.Arrays
			}
			lines = append(lines, fmt.Sprintf("and %d more processes keep %d arrays", more, arrays))
			break
		}
		lines = append(lines, fmt.Sprintf("%d arrays %s: kept by %s", k.Arrays, k.Reason, k.By))
	}
	exes := map[Reason][]string{}
	var reasons []Reason
	for _, k := range ks {
		if !slices.Contains(reasons, k.Reason) {
			reasons = append(reasons, k.Reason)
		}
		if k.By.Exe != "" && !slices.Contains(exes[k.Reason], k.By.Exe) {
			exes[k.Reason] = append(exes[k.Reason], k.By.Exe)
		}
	}
	for _, r := range reasons {
		if a := Advice(r, exes[r], policyFile); a != "" {
			lines = append(lines, fmt.Sprintf("fix (%s): %s", r, a))
		}
	}
	return lines
}

// Advice is the one thing an operator can do about arrays kept for the
// reason; exes are the kept-by processes' executables, for the
// declaration to copy.
func Advice(r Reason, exes []string, policyFile string) string {
	switch r {
	case ReasonOwnerAlive:
		decl := `neighbours = ["/path/to/program"]`
		if len(exes) > 0 {
			quoted := make([]string, len(exes))
			for i, e := range exes {
				quoted[i] = strconv.Quote(e)
			}
			decl = "neighbours = [" + strings.Join(quoted, ", ") + "]"
		}
		return fmt.Sprintf("if it never uses System V semaphores at all (nginx, a PHP CLI without sysvsem), declare it a neighbour in %s (%s); a program that locks with them (uWSGI's ipcsem lock engine, a daemon that makes a lock as root and drops to this user) must never be declared: stop it, or leave the arrays until it exits", policyFile, decl)
	case ReasonOwnerUnverified:
		return "its executable cannot be read as this user, so it may or may not be PHP-FPM or a declared neighbour: run as root to tell (the event handler does)"
	case ReasonMasterMayOwn:
		return "restart that Apache through its unit (systemctl restart apache2): with the unit drop-in on (ipcwatch-witness.conf, which make install and the packages put in place), its before-start hook removes what no process can use while it is stopped, and every start's arrays are recorded from then on, so a dead start's are proven leaks beside a running Apache"
	case ReasonOrphanAlive:
		return fmt.Sprintf("stop the dead Apache's orphaned workers, or set kill_orphans = true in %s", policyFile)
	case ReasonLastPIDAlive:
		return "it was the last to use the array, or took that process's pid after it exited (compare its start with the array's last use, ipcs -s -t): it keeps the array until it exits; end it only if it is a dead server's leftover"
	case ReasonAfterMasterStart, ReasonWitnessedLive:
		return "the running Apache made or changed it: it is that server's, nothing to do"
	case ReasonTooYoung:
		return "wait: arrays changed within the minimum age are never stale"
	case ReasonLastPIDUnknown:
		return "its last user ran outside this PID namespace, or nothing ever locked it: run the handler with --pid of a process in Apache's namespace"
	case ReasonWaiters, ReasonHeld:
		return "a process is waiting on it or holds it: it is in use"
	case ReasonUnreadable:
		return "run as root, or give the program cap_ipc_owner (the packages and make install do)"
	}
	return ""
}
