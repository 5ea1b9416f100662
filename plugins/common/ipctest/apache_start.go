package ipctest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StartingApache is a server on its way up: a test can act while the
// start-up process is still in its first configuration pass (inside a
// slow pass-phrase dialog, say), then Wait for it to serve.
type StartingApache struct {
	// PID is the start-up process: `apache2 -k start`, which forks the
	// daemon master and exits, or the foreground master itself.
	PID    int
	a      *Apache
	cmd    *exec.Cmd // nil for the foreground server: its wrapper has exited
	out    bytes.Buffer
	before int64
}

// StartAsync launches Apache without waiting for it: `apache2 -k start`
// as root, or for NonRootForeground `apache2 -DFOREGROUND` as www-data.
func (a *Apache) StartAsync() (*StartingApache, error) {
	_ = os.Remove(a.pidFile())
	s := &StartingApache{a: a, before: a.logSize()}
	if a.opts.NonRootForeground {
		pid, err := a.startForeground()
		if err != nil {
			return nil, err
		}
		s.PID = pid
		return s, nil
	}
	s.cmd = exec.Command(a.binary, "-f", a.confFile(), "-k", "start")
	if a.opts.Cgroup != "" {
		// The shell joins the cgroup, then becomes apache2 (same pid).
		s.cmd = exec.Command("/bin/sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, a.opts.Cgroup, a.binary, "-f", a.confFile(), "-k", "start")
	}
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("apache2 -k start: %w", err)
	}
	s.PID = s.cmd.Process.Pid
	return s, nil
}

// startForeground starts the master through a shell that is a session
// and process-group leader and exits at once: the master stays in the
// shell's group, a group whose leader is gone, as under a supervisor that
// backgrounds it. The shell prints the master's pid.
func (a *Apache) startForeground() (int, error) {
	mode := "-DFOREGROUND"
	switch {
	case a.opts.DefinesInConfig:
		mode = ""
	case a.opts.SplitDefines:
		mode = "-D ONE_PROCESS -D FOREGROUND"
	case a.opts.OneProcess:
		mode = "-X"
	}
	script := `"$0" ` + mode + ` -f "$1" </dev/null >>"$2" 2>&1 & echo $!`
	cmd := exec.Command("/bin/sh", "-c", script, a.binary, a.confFile(), a.stderrFile())
	cmd.Dir = a.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid:     true,
		Credential: &syscall.Credential{Uid: wwwDataUID, Gid: wwwDataUID, Groups: []uint32{wwwDataUID}},
	}
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("start apache2 -DFOREGROUND as www-data: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return 0, fmt.Errorf("foreground wrapper printed %q", out)
	}
	return pid, nil
}

// Wait waits until the master runs with its StartServers workers (call it
// once). It returns the error log's new lines when Apache fails.
func (s *StartingApache) Wait() error {
	a := s.a
	if s.cmd != nil {
		if err := s.cmd.Wait(); err != nil {
			return fmt.Errorf("apache2 -k start: %w: %s%s", err, s.out.Bytes(), a.logSince(s.before))
		}
	}
	// Ready means the master and its StartServers workers run: a test
	// that kills the master right after must leave orphans behind, and
	// on a loaded machine the workers come a while after the pid file.
	// A foreground master also sits through its dialog in here.
	limit := 10*time.Second + a.opts.PassPhraseDelay
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if pid, err := a.MasterPID(); err == nil && syscall.Kill(pid, 0) == nil && (countChildren(pid) >= startServers || a.oneProcessServing()) {
			return nil
		}
		if s.cmd == nil && !processAlive(s.PID) {
			return fmt.Errorf("apache2 -DFOREGROUND exited: %s%s", a.stderr(), a.logSince(s.before))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("apache2 not up with %d workers in %v: %s", startServers, limit, a.logSince(s.before))
}

// WaitPassPhraseDialog waits until the pass-phrase script runs and
// returns its pid. By then the start-up process has made its first-pass
// arrays (ssl-cache among them) and blocks reading the script's answer
// for PassPhraseDelay.
func (s *StartingApache) WaitPassPhraseDialog(timeout time.Duration) (int, error) {
	if !s.a.opts.TLS {
		return 0, errors.New("no pass-phrase dialog without TLS")
	}
	script := s.a.passPhraseScriptPath()
	deadline := time.Now().Add(timeout)
	for {
		if pid := findProcess(func(argv []string) bool { return slices.Contains(argv, script) }); pid > 0 {
			return pid, nil
		}
		if !processAlive(s.PID) {
			return 0, fmt.Errorf("apache2 start-up process %d ended before a pass-phrase dialog was seen: %s", s.PID, s.a.logSince(s.before))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no pass-phrase dialog in %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// findProcess returns a live process whose argv matches, or 0.
func findProcess(match func(argv []string) bool) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		if match(strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")) && processAlive(pid) {
			return pid
		}
	}
	return 0
}

func (a *Apache) confFile() string { return filepath.Join(a.Dir, "httpd.conf") }

// stderrFile takes a foreground server's own output, which says why it
// stopped before it opened the error log.
func (a *Apache) stderrFile() string { return filepath.Join(a.Dir, "stderr.log") }

func (a *Apache) stderr() string {
	b, _ := os.ReadFile(a.stderrFile())
	return string(b)
}

// oneProcessServing: an `apache2 -X` (or -D ONE_PROCESS) has no workers;
// it is up once it answers.
func (a *Apache) oneProcessServing() bool {
	if !a.opts.OneProcess && !a.opts.SplitDefines && !a.opts.DefinesInConfig {
		return false
	}
	_, err := a.Get("/index.html")
	return err == nil
}
