package soak

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// telegrafUID is the telegraf account's uid where the host has none.
const telegrafUID = 60999

// realTelegraf is the Telegraf make telegraf built, running as telegraf
// all run long with the installed inputs.execd snippet (the installed
// shim, its installed config) and a file output.
type realTelegraf struct {
	cmd    *exec.Cmd
	out    string // the file output's metrics
	log    string // its own log
	exited chan struct{}
}

// startRealTelegraf starts it; it fails under CI (skips elsewhere) when
// IPCWATCH_TELEGRAF names no Telegraf.
func startRealTelegraf(t *testing.T, in installed) *realTelegraf {
	t.Helper()
	bin := os.Getenv("IPCWATCH_TELEGRAF")
	_, err := os.Stat(bin)
	ipctest.Require(t, bin != "" && err == nil, "needs a Telegraf binary in IPCWATCH_TELEGRAF (make telegraf)")
	uid, gid := ipctest.Account(t, "telegraf", telegrafUID)
	dir := ipctest.WorldReadableDir(t, "ipcwatch-soak-telegraf-")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	telegraf := filepath.Join(dir, "telegraf")
	if err := os.WriteFile(telegraf, b, 0o755); err != nil {
		t.Fatal(err)
	}
	snippet, err := os.ReadFile(filepath.Join(in.root, "etc/telegraf/telegraf.d/ipcwatch.conf"))
	if err != nil {
		t.Fatal(err)
	}
	rt := &realTelegraf{out: filepath.Join(dir, "metrics.out"), log: filepath.Join(dir, "telegraf.log"), exited: make(chan struct{})}
	conf := "[agent]\n  interval = \"1s\"\n  flush_interval = \"1s\"\n  omit_hostname = true\n\n" + string(snippet) +
		"\n[[outputs.file]]\n  files = [\"" + rt.out + "\"]\n  data_format = \"influx\"\n"
	confPath := filepath.Join(dir, "telegraf.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(rt.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	rt.cmd = exec.Command(telegraf, "--config", confPath)
	rt.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Setpgid: true}
	rt.cmd.Dir = dir
	rt.cmd.Stdout, rt.cmd.Stderr = logf, logf
	if err := rt.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = rt.cmd.Wait(); close(rt.exited) }()
	t.Cleanup(rt.stop)
	t.Logf("Telegraf (pid %d) as uid %d with the installed execd snippet, writing %s", rt.cmd.Process.Pid, uid, rt.out)
	return rt
}

// stop ends Telegraf and its shim (its process group).
func (rt *realTelegraf) stop() {
	if rt == nil || rt.cmd == nil || rt.cmd.Process == nil {
		return
	}
	select {
	case <-rt.exited:
		return
	default:
	}
	_ = syscall.Kill(-rt.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-rt.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-rt.cmd.Process.Pid, syscall.SIGKILL)
		<-rt.exited
	}
}

// telegrafLoop reads the real Telegraf's sysvipc_sem lines as its file
// output writes them and holds each to the truth at its timestamp: the
// arrays that existed around it (what the monitor saw from two seconds
// before to two seconds after) and those of a server that ran all that
// while.
func (s *soak) telegrafLoop(ctx context.Context) {
	rt := s.telegraf
	var off int64
	var pending []string
	for sleep(ctx, 250*time.Millisecond) {
		select {
		case <-rt.exited:
			b, _ := os.ReadFile(rt.log)
			s.violate(false, "Telegraf exited: %.2000s", b)
			return
		default:
		}
		lines, next := readLines(rt.out, off)
		off = next
		for _, l := range lines {
			if strings.HasPrefix(l, "sysvipc_sem ") || strings.HasPrefix(l, "sysvipc_sem,") {
				pending = append(pending, l)
			}
		}
		// A line is judged once the monitor has seen the second after it.
		var later []string
		for _, l := range pending {
			if !s.judgeTelegrafLine(l, false) {
				later = append(later, l)
			}
		}
		pending = later
	}
	for _, l := range pending {
		s.judgeTelegrafLine(l, true)
	}
}

// telegrafSlack is how far from a line's timestamp the gather it reports
// may have looked.
const telegrafSlack = 2 * time.Second

// judgeTelegrafLine judges one line; false when the monitor has not yet
// seen the moments it needs (final: judge with what there is).
func (s *soak) judgeTelegrafLine(line string, final bool) bool {
	f := strings.Fields(line)
	ns, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil {
		s.violate(false, "Telegraf line without a timestamp: %s", line)
		return true
	}
	at := time.Unix(0, ns)
	existed, live, ok := s.history.around(at.Add(-telegrafSlack), at.Add(telegrafSlack))
	if !ok && !final {
		return false
	}
	if !ok && len(existed) == 0 {
		return true // outside what the monitor saw: before the run, or after it
	}
	s.fig.add(&s.fig.telegraf, 1)
	m := fieldStale.FindStringSubmatch(line)
	if m == nil {
		return true
	}
	stale, _ := strconv.Atoi(m[1])
	if u := fieldUnjudged.FindStringSubmatch(line); u != nil && u[1] != "0" {
		s.violate(false, "the real Telegraf gave a stale count beside %s unjudged arrays: %s", u[1], line)
	}
	s.judgeCount("the real Telegraf", stale, existed, existed, live, live, line)
	return true
}

// readLines reads the complete lines of a file from offset on.
func readLines(path string, off int64) ([]string, int64) {
	f, err := os.Open(path)
	if err != nil {
		return nil, off
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, off
	}
	b, _ := io.ReadAll(f)
	end := strings.LastIndexByte(string(b), '\n') + 1
	if end == 0 {
		return nil, off
	}
	return strings.Split(strings.TrimSuffix(string(b[:end]), "\n"), "\n"), off + int64(end)
}

// history is what the monitor saw every 20 ms: the arrays that existed
// and those of a running server, for the last minute.
type history struct {
	mu      sync.Mutex
	samples []sample
}

type sample struct {
	at        time.Time
	ids, live map[int32]bool
}

// historyKeep is how long samples are kept.
const historyKeep = time.Minute

func (h *history) add(ids, live map[int32]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	h.samples = append(h.samples, sample{at: now, ids: ids, live: live})
	i := 0
	for i < len(h.samples) && now.Sub(h.samples[i].at) > historyKeep {
		i++
	}
	h.samples = h.samples[i:]
}

// around is every array seen between from and to, and those live in
// every sample of it; ok once a sample after to exists.
func (h *history) around(from, to time.Time) (existed, live map[int32]bool, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	existed, live = map[int32]bool{}, nil
	after := false
	for _, sm := range h.samples {
		switch {
		case sm.at.Before(from):
			continue
		case sm.at.After(to):
			after = true
			continue
		}
		for id := range sm.ids {
			existed[id] = true
		}
		if live == nil {
			live = map[int32]bool{}
			for id := range sm.live {
				live[id] = true
			}
		} else {
			for id := range live {
				if !sm.live[id] {
					delete(live, id)
				}
			}
		}
	}
	if live == nil {
		live = map[int32]bool{}
	}
	return existed, live, after
}
