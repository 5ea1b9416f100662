package ipctest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// PHPFPM is Debian's php-fpm with its stock www-data pool: the neighbour
// most Apache 2.4 hosts have, a root master with www-data workers that
// run for as long as the host does.
type PHPFPM struct {
	MasterPID int
	Workers   []int
	Socket    string // the www pool's FastCGI socket (ApacheOptions.PHPFPM)
}

// StartPHPFPM starts php-fpm from its packaged config, daemonized, with
// empty /run and /var/log (tmpfs) for its pid file, socket and log; only
// inside Enter's private mount namespace. It waits for the pool's
// workers.
func StartPHPFPM(t testing.TB) *PHPFPM {
	t.Helper()
	bins, _ := filepath.Glob("/usr/sbin/php-fpm*")
	confs, _ := filepath.Glob("/etc/php/*/fpm/php-fpm.conf")
	Require(t, len(bins) == 1 && len(confs) == 1, "needs Debian's php-fpm (make deps)")
	if !Inside() {
		t.Fatal("StartPHPFPM needs Enter's private mount namespace")
	}
	for _, dir := range []string{"/run", "/var/log"} {
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
			t.Fatalf("tmpfs on %s: %v", dir, err)
		}
	}
	if err := os.MkdirAll("/run/php", 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bins[0], "--fpm-config", confs[0], "-D").CombinedOutput(); err != nil {
		t.Fatalf("%s -D: %v: %s", bins[0], err, out)
	}
	name := filepath.Base(bins[0])
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		master, workers := phpFPMProcesses(name)
		socks, _ := filepath.Glob("/run/php/php*-fpm.sock")
		if master > 0 && len(workers) >= 2 && len(socks) == 1 {
			p := &PHPFPM{MasterPID: master, Workers: workers, Socket: socks[0]}
			t.Cleanup(func() { _ = syscall.Kill(master, syscall.SIGKILL) })
			return p
		}
	}
	t.Fatalf("%s: no master with two workers in 10s", name)
	return nil
}

// Alive reports whether the master and every worker seen at start run.
func (p *PHPFPM) Alive() bool {
	for _, pid := range append([]int{p.MasterPID}, p.Workers...) {
		if !processAlive(pid) {
			return false
		}
	}
	return true
}

// phpFPMProcesses finds the php-fpm master (root) and its workers.
func phpFPMProcesses(comm string) (master int, workers []int) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || !bytes.Contains(b, []byte("("+comm+")")) {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		if strings.Contains(string(status), "\nUid:\t0\t") {
			master = pid
		} else {
			workers = append(workers, pid)
		}
	}
	return master, workers
}
