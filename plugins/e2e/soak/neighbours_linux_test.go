package soak

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// neighbours are the LAMP host's other processes, coming and going.
type neighbours struct {
	fpmMaster int
	fpmTicks  uint64
	nginx     *ipctest.Nginx
	nginxAt   uint64 // the nginx master's start ticks
	jobs      int    // www-data jobs running
	idle      []int  // the idle processes that lengthen every census
}

// idleProcesses is how many idle processes the namespace holds: every
// census (the plan's, the re-check's, the check's) reads them all, so a
// start-up process that forks its master and exits meanwhile has a
// window in which it and its master are both unseen.
const idleProcesses = 1000

// idleUID runs the idle processes: no Apache user, no one's arrays.
const idleUID = 4321

// startIdle starts n sleeping processes of idleUID.
func startIdle(t *testing.T, n int) []int {
	var pids []int
	for range n {
		cmd := exec.Command("/bin/sleep", "infinity")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: idleUID, Gid: idleUID}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, cmd.Process.Pid)
		go func() { _ = cmd.Wait() }()
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return pids
}

// toggleFPM starts php-fpm from its packaged config (its pid file and
// socket in the private /run), or stops it.
func (s *soak) toggleFPM() {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := &s.neighbours
	if n.fpmMaster != 0 {
		_ = syscall.Kill(n.fpmMaster, syscall.SIGQUIT)
		n.fpmMaster = 0
		s.fig.fault("php-fpm stopped")
		return
	}
	bins, _ := filepath.Glob("/usr/sbin/php-fpm*")
	confs, _ := filepath.Glob("/etc/php/*/fpm/php-fpm.conf")
	if len(bins) != 1 || len(confs) != 1 {
		s.violate(false, "php-fpm is not installed (make deps)")
		return
	}
	_ = os.MkdirAll("/run/php", 0o755)
	if out, err := exec.Command(bins[0], "--fpm-config", confs[0], "-D").CombinedOutput(); err != nil {
		s.t.Logf("php-fpm -D: %v: %s", err, out)
		return
	}
	pidFiles, _ := filepath.Glob("/run/php/php*-fpm.pid")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(pidFiles) == 0; time.Sleep(20 * time.Millisecond) {
		pidFiles, _ = filepath.Glob("/run/php/php*-fpm.pid")
	}
	if len(pidFiles) == 0 {
		s.t.Logf("php-fpm wrote no pid file")
		return
	}
	b, _ := os.ReadFile(pidFiles[0])
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	n.fpmMaster, n.fpmTicks = pid, startTicks(pid)
	s.fig.fault("php-fpm started")
}

// toggleNginx starts nginx (root master, www-data workers), or stops it.
func (s *soak) toggleNginx() {
	s.mu.Lock()
	n := &s.neighbours
	if n.nginx != nil {
		for _, pid := range append([]int{n.nginx.MasterPID}, n.nginx.Workers...) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		n.nginx = nil
		s.mu.Unlock()
		s.fig.fault("nginx stopped")
		return
	}
	s.mu.Unlock()
	ng := ipctest.StartNginx(s.t)
	s.mu.Lock()
	n.nginx, n.nginxAt = ng, startTicks(ng.MasterPID)
	s.mu.Unlock()
	s.fig.fault("nginx started")
}

// wwwDataJob runs a www-data job (a cron job, a queue run) for a drawn
// while; it must end by itself, never by a signal.
func (s *soak) wwwDataJob(r *rand.Rand) {
	d := between(r, 200*time.Millisecond, 3*time.Second)
	cmd := exec.Command("/bin/sleep", strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 33, Gid: 33}}
	if err := cmd.Start(); err != nil {
		s.violate(false, "www-data job: %v", err)
		return
	}
	s.mu.Lock()
	s.neighbours.jobs++
	s.mu.Unlock()
	s.fig.fault("www-data job")
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.neighbours.jobs--
		s.mu.Unlock()
		if err != nil {
			s.violate(false, "a www-data job (pid %d) did not end by itself: %v", cmd.Process.Pid, err)
		}
	}()
}

// checkNeighbours fails when a neighbour the soak did not stop is gone.
func (s *soak) checkNeighbours() {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := &s.neighbours
	if n.fpmMaster != 0 && !same(n.fpmMaster, n.fpmTicks) {
		s.violate(false, "the php-fpm master %d died, and the soak did not stop it", n.fpmMaster)
		n.fpmMaster = 0
	}
	if n.nginx != nil && !n.nginx.Alive() {
		s.violate(false, "nginx (master %d) lost a process the soak did not kill", n.nginx.MasterPID)
		n.nginx = nil
	}
	for i, pid := range n.idle {
		if startTicks(pid) == 0 {
			s.violate(false, "idle process %d died", pid)
			n.idle = append(n.idle[:i], n.idle[i+1:]...)
			break
		}
	}
}

// stopNeighbours stops nginx and php-fpm and waits out the jobs: the
// outage with no www-data process left.
func (s *soak) stopNeighbours() {
	s.mu.Lock()
	nginx, fpm := s.neighbours.nginx != nil, s.neighbours.fpmMaster != 0
	s.mu.Unlock()
	if nginx {
		s.toggleNginx()
	}
	if fpm {
		s.toggleFPM()
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		s.mu.Lock()
		jobs := s.neighbours.jobs
		s.mu.Unlock()
		if jobs == 0 {
			return
		}
	}
}
