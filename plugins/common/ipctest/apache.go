package ipctest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ApacheBinary is Debian's Apache 2.4 server.
const ApacheBinary = "/usr/sbin/apache2"

// apacheConf makes Apache create three System V semaphore arrays at start:
// prefork's accept mutex (two listeners), mod_rewrite's rewrite-map mutex
// (a prg: map) and mod_ssl's session-cache mutex. The rewrite-map one is
// never locked unless a request uses the map.
const apacheConf = `ServerRoot {{dir}}
ServerName localhost
PidFile {{dir}}/httpd.pid
ErrorLog {{dir}}/error.log
LogLevel info
Listen 127.0.0.1:{{port1}}
Listen 127.0.0.1:{{port2}}
User www-data
Group www-data
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule rewrite_module /usr/lib/apache2/modules/mod_rewrite.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
StartServers {{start}}
MinSpareServers 1
MaxSpareServers 3
Mutex sysvsem default
DocumentRoot {{dir}}
RewriteEngine on
RewriteMap upper prg:/bin/cat
SSLSessionCache shmcb:{{dir}}/ssl_scache(512000)
`

// ArraysPerApacheStart is how many semaphore arrays one start leaves.
const ArraysPerApacheStart = 3

// Apache is a real apache2 started with its own config in a temp dir.
// Start it only inside Enter's private namespaces: it listens on
// loopback and its mutexes are kernel objects.
type Apache struct {
	Dir     string
	opts    ApacheOptions
	port    string // the first plain HTTP listener, for Get
	tlsPort string
	binary  string // ApacheBinary, or its renamed copy
}

// NewApache writes the config; it skips (fails under CI) without apache2.
func NewApache(t testing.TB) *Apache {
	t.Helper()
	return NewApacheWith(t, ApacheOptions{})
}

// Start starts Apache (StartAsync) and waits until it serves (Wait). It
// returns the error log's new lines when Apache fails.
func (a *Apache) Start() error {
	s, err := a.StartAsync()
	if err != nil {
		return err
	}
	return s.Wait()
}

// startServers is the config's StartServers.
const startServers = 2

// countChildren counts the live apache2 (or renamed httpd-custom)
// children of pid.
func countChildren(pid int) int { return len(ApacheChildren(pid)) }

// ApacheChildren lists the live apache2 (or renamed httpd-custom)
// children of pid: a master's workers.
func ApacheChildren(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || !(bytes.HasSuffix(b[:i], []byte("(apache2")) || bytes.HasSuffix(b[:i], []byte("(httpd-custom"))) {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[0] != "Z" && f[1] == strconv.Itoa(pid) {
			if child, err := strconv.Atoi(e.Name()); err == nil {
				out = append(out, child)
			}
		}
	}
	return out
}

// MasterPID reads the pid file.
func (a *Apache) MasterPID() (int, error) {
	b, err := os.ReadFile(a.pidFile())
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(bytes.TrimSpace(b)))
}

// Log returns the whole error log.
func (a *Apache) Log() string { return a.logSince(0) }

func (a *Apache) pidFile() string { return filepath.Join(a.Dir, "httpd.pid") }

func (a *Apache) logSize() int64 {
	st, err := os.Stat(filepath.Join(a.Dir, "error.log"))
	if err != nil {
		return 0
	}
	return st.Size()
}

func (a *Apache) logSince(off int64) string {
	b, _ := os.ReadFile(filepath.Join(a.Dir, "error.log"))
	if off > int64(len(b)) {
		off = 0
	}
	return string(b[off:])
}

// KillAll SIGKILLs every apache2 process of this PID namespace, master
// and workers, the way an OOM kill or a systemd stop timeout leaves the
// mutexes behind, and waits until they are gone.
func KillAll() error {
	if os.Getenv(envHostPID) != "" {
		return fmt.Errorf("KillAll in the host's PID namespace would kill every apache2 of the machine")
	}
	return killMatching(func(comm string, _ int) bool { return comm == "apache2" || comm == "httpd-custom" })
}

// KillMaster SIGKILLs only the master, leaving its workers orphaned.
func (a *Apache) KillMaster() error {
	pid, err := a.MasterPID()
	if err != nil {
		return err
	}
	return killMatching(func(_ string, p int) bool { return p == pid })
}

// Crash SIGKILLs this server alone, its master and its whole process
// group at once (workers, the rewrite map's program), as a crash of one
// instance beside others, and waits until they are gone. A daemon
// master leads its own group (setsid at detach).
func (a *Apache) Crash() error {
	pid, err := a.MasterPID()
	if err != nil {
		return err
	}
	members := groupMembers(pid)
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill group %d: %w", pid, err)
	}
	return waitAllGone(members)
}

// groupMembers lists the processes of a process group.
func groupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if i > 0 && len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			if pid, err := strconv.Atoi(e.Name()); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// waitAllGone waits until every pid is gone, 5 s for all of them.
func waitAllGone(pids []int) error {
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		if err := waitGone(pid, time.Until(deadline)); err != nil {
			return fmt.Errorf("after SIGKILL: %w", err)
		}
	}
	return nil
}

func killMatching(match func(comm string, pid int) bool) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || !match(strings.TrimSpace(string(comm)), pid) {
			continue
		}
		pids = append(pids, pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return waitAllGone(pids)
}

// processAlive is true until the process is reaped; a zombie counts as
// gone, because the namespace's init (unshare) reaps it on its own time.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

// freePort asks the kernel for a free loopback port. Tests in other
// packages run at the same time, all as pid 1 of their namespaces, so no
// fixed or pid-derived port would do. A port handed out before is never
// handed out again in this process: a stopped server's ports are free to
// the kernel, and another server given one of them would keep the first
// from starting again (AH00072).
func freePort(t testing.TB) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return strconv.Itoa(port)
		}
	}
	t.Fatal("no loopback port not handed out before in 100 tries")
	return ""
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)
