package soak

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// auditLog is where the installed handler and its hooks write, under the
// namespace's private /var/log.
const auditLog = "/var/log/ipcwatch/remediate.jsonl"

// nagios is the monitoring user's uid and gid.
func nagios() (uint32, uint32) {
	u, err := user.Lookup("nagios")
	if err != nil {
		return 0, 0
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uint32(uid), uint32(gid)
}

// run runs a program and returns its combined output and exit code (-1
// when it could not run).
func run(cmd *exec.Cmd) (string, int) {
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		return err.Error(), -1
	}
	return string(out), 0
}

// asNagios runs a program as the nagios user.
func asNagios(name string, args ...string) *exec.Cmd {
	uid, gid := nagios()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	cmd.Dir = "/"
	return cmd
}

// root runs the installed handler as root: the hooks, as systemd runs
// them.
func (s *soak) root(args ...string) (string, int) {
	return run(exec.Command(s.in.handler(), args...))
}

// handlerViaSudo runs the installed handler as Nagios runs it on a HARD
// CRITICAL: as nagios, through the real sudo and the installed rule.
func (s *soak) handlerViaSudo() (string, int, time.Duration) {
	begin := time.Now()
	cmd := asNagios("/usr/bin/sudo", "-n", s.in.handler(), "--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err.Error(), -1, time.Since(begin)
	}
	s.handlers.Store(cmd.Process.Pid, true)
	err := cmd.Wait()
	s.handlers.Delete(cmd.Process.Pid)
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		return err.Error(), -1, time.Since(begin)
	}
	return out.String(), code, time.Since(begin)
}

// handlerLoop calls the handler at moments drawn from the seed, all run
// long; two loops run at once, so calls also meet the lock.
func (s *soak) handlerLoop(stream uint64, think time.Duration) func(context.Context) {
	return func(ctx context.Context) {
		r := s.rng(stream)
		for sleep(ctx, between(r, 0, think+time.Millisecond)) {
			out, code, took := s.handlerViaSudo()
			switch {
			case code == 1 && strings.Contains(out, "lock"):
				s.fig.add(&s.fig.handlerLocked, 1)
			case code != 0:
				s.violate(false, "handler through sudo exited %d: %s", code, out)
			default:
				s.fig.mu.Lock()
				s.fig.handlerTimes = append(s.fig.handlerTimes, took)
				s.fig.mu.Unlock()
			}
		}
	}
}

var (
	perfStale  = regexp.MustCompile(`\bstale_arrays=(\d+)`)
	perfArrays = regexp.MustCompile(`\bsem_arrays=(\d+)`)
)

// checkLoop runs the installed check as nagios, as Nagios does, and holds
// its numbers to the truth.
func (s *soak) checkLoop(ctx context.Context) {
	r := s.rng(13)
	for sleep(ctx, between(r, 100*time.Millisecond, 700*time.Millisecond)) {
		before, live, from := semIDs(), s.liveArrays(), time.Now()
		out, code := run(asNagios(s.in.check(), "--stale-warning", "0", "--min-age", "0s"))
		s.fig.took(&s.fig.checkTimes, time.Since(from))
		after, liveAfter := s.seenSince(from), s.liveArrays()
		s.fig.add(&s.fig.checks, 1)
		if code < 0 || code > 3 {
			s.violate(false, "check exited %d: %s", code, out)
			continue
		}
		m := perfStale.FindStringSubmatch(out)
		if m == nil {
			continue
		}
		stale, _ := strconv.Atoi(m[1])
		if strings.Contains(out, "not measured") {
			s.violate(false, "the check gave a stale count beside unjudged arrays: %s", firstLine(out))
		}
		s.judgeCount("check", stale, before, after, live, liveAfter, out)
	}
}

// shimGatherLimit bounds one gather of the shim under the soak's load
// (a thousand idle processes, every loop taking censuses): liveness, not
// a number; a gather once took over 10 s in a 30-minute run.
const shimGatherLimit = 30 * time.Second

// seenSince is every array that existed from a time on: those there now
// and those the monitor saw meanwhile, made and removed while a check or
// a gather ran (a failed start's arrays, a handler's removal).
func (s *soak) seenSince(from time.Time) map[int32]bool {
	ids := semIDs()
	seen, _, _ := s.history.around(from, time.Now())
	for id := range seen {
		ids[id] = true
	}
	return ids
}

// lockedBuffer is a strings.Builder safe for a process's writes and the
// soak's read.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 4096 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// judgeCount holds a stale count to the arrays that existed while it was
// taken: never more than existed, and never one that belonged to an
// instance whose master ran throughout.
func (s *soak) judgeCount(who string, stale int, before, after, live, liveAfter map[int32]bool, out string) {
	existed := map[int32]bool{}
	for id := range before {
		existed[id] = true
	}
	for id := range after {
		existed[id] = true
	}
	if stale > len(existed) {
		s.violate(false, "%s counted %d stale arrays, but at most %d existed: %s", who, stale, len(existed), firstLine(out))
		return
	}
	notLive := 0
	for id := range existed {
		if !(live[id] && liveAfter[id]) {
			notLive++
		}
	}
	if stale > notLive {
		s.violate(false, "%s counted %d stale arrays, but only %d of %d existing arrays were not a running server's: %s", who, stale, notLive, len(existed), firstLine(out))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

var (
	fieldStale    = regexp.MustCompile(`[ ,]stale_arrays=(\d+)i`)
	fieldUnjudged = regexp.MustCompile(`[ ,]unjudged_arrays=(\d+)i`)
)

// gatherLoop runs the installed Telegraf shim as inputs.execd does (one
// long-lived process, a newline per gather), as nagios with the shim's
// capability, and holds its sysvipc_sem numbers to the truth.
func (s *soak) gatherLoop(ctx context.Context) {
	r := s.rng(14)
	cmd := asNagios(s.in.shim(), "-config", s.in.shimConf(), "-poll_interval_disabled")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		s.violate(false, "shim: %v", err)
		return
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		s.violate(false, "shim: %v", err)
		return
	}
	if err := cmd.Start(); err != nil {
		s.violate(false, "shim: %v", err)
		return
	}
	defer func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "sysvipc_sem,") || strings.HasPrefix(sc.Text(), "sysvipc_sem ") {
				lines <- sc.Text()
			}
		}
		close(lines)
	}()
	for sleep(ctx, between(r, 100*time.Millisecond, 700*time.Millisecond)) {
		before, live, from := semIDs(), s.liveArrays(), time.Now()
		if _, err := io.WriteString(stdin, "\n"); err != nil {
			s.violate(false, "shim stopped: %v", err)
			return
		}
		var line string
		select {
		case l, ok := <-lines:
			if !ok {
				s.violate(false, "shim closed its output")
				return
			}
			line = l
			s.fig.took(&s.fig.gatherTimes, time.Since(from))
		case <-time.After(shimGatherLimit):
			s.violate(false, "shim gave no sysvipc_sem line in %s (its stderr: %q)", shimGatherLimit, stderr.String())
			return
		}
		after, liveAfter := s.seenSince(from), s.liveArrays()
		s.fig.add(&s.fig.gathers, 1)
		m := fieldStale.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		stale, _ := strconv.Atoi(m[1])
		if u := fieldUnjudged.FindStringSubmatch(line); u != nil && u[1] != "0" {
			s.violate(false, "Telegraf gave a stale count beside %s unjudged arrays: %s", u[1], line)
		}
		s.judgeCount("Telegraf", stale, before, after, live, liveAfter, line)
	}
}

// liveArrays are the arrays of every instance whose master runs now.
func (s *soak) liveArrays() map[int32]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int32]bool{}
	for _, in := range s.instances {
		if in.running && same(in.master, in.masterTicks) {
			for id := range in.arrays {
				out[id] = true
			}
		}
	}
	return out
}

// auditEntry is what the soak reads of one audit line.
type auditEntry struct {
	Caller  string    `json:"caller"`
	Time    time.Time `json:"time"`
	Error   string    `json:"error"`
	Summary *struct {
		Removed struct {
			Count int `json:"count"`
		} `json:"removed"`
		Kept []struct {
			By struct {
				PID int `json:"pid"`
			} `json:"by"`
		} `json:"kept_by"`
	} `json:"summary"`
	Evidence []struct {
		SemID      int32    `json:"semid"`
		LastPID    int      `json:"last_pid"`
		Verdict    string   `json:"verdict"`
		Reasons    []string `json:"reasons"`
		BlockerPID int      `json:"blocker_pid"`
	} `json:"evidence"`
	Actions []struct {
		SemID   int32  `json:"semid"`
		Outcome string `json:"outcome"`
		Why     string `json:"why"`
	} `json:"actions"`
	Orphans []struct {
		PID        int    `json:"pid"`
		StartTicks uint64 `json:"start_ticks"`
	} `json:"orphans"`
	OrphanActs []struct {
		PID     int    `json:"pid"`
		Outcome string `json:"outcome"`
	} `json:"orphan_actions"`
	Hook *struct {
		Hook string `json:"hook"`
		Unit string `json:"unit"`
	} `json:"hook"`
}

// readAudit reads the audit lines from offset on and returns them with
// the new offset.
func readAudit(off int64) ([]auditEntry, int64, error) {
	f, err := os.Open(auditLog)
	if os.IsNotExist(err) {
		return nil, off, nil
	}
	if err != nil {
		return nil, off, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, off, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, off, err
	}
	end := strings.LastIndexByte(string(b), '\n') + 1
	var out []auditEntry
	for _, line := range strings.Split(string(b[:end]), "\n") {
		if line == "" {
			continue
		}
		var e auditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return out, off, fmt.Errorf("audit line %.200q: %w", line, err)
		}
		out = append(out, e)
	}
	return out, off + int64(end), nil
}
