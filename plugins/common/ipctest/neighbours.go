package ipctest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Nginx is Debian's nginx as it runs in front of Apache on a LAMP host: a
// root master and www-data workers that run for as long as the host does
// and never touch a System V semaphore array.
type Nginx struct {
	MasterPID int
	Workers   []int
	Port      string
	dir       string
}

// nginxConf serves dir/www on the loopback port, as www-data, with every
// file it writes (pid, logs, temporary bodies) under dir.
const nginxConf = `user www-data www-data;
worker_processes 2;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path {{dir}}/body;
	proxy_temp_path {{dir}}/proxy;
	fastcgi_temp_path {{dir}}/fastcgi;
	uwsgi_temp_path {{dir}}/uwsgi;
	scgi_temp_path {{dir}}/scgi;
	server {
		listen 127.0.0.1:{{port}};
		root {{dir}}/www;
	}
}
`

// StartNginx starts /usr/sbin/nginx daemonized with its own config and
// waits for its two www-data workers and its first answer. It needs the
// network namespace Enter gives.
func StartNginx(t testing.TB) *Nginx {
	t.Helper()
	_, err := os.Stat("/usr/sbin/nginx")
	Require(t, err == nil, "needs Debian's nginx (make deps)")
	if !Inside() {
		t.Fatal("StartNginx needs Enter's private namespaces")
	}
	dir := WorldReadableDir(t, "ipcwatch-nginx-")
	if err := os.MkdirAll(filepath.Join(dir, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte("nginx in front\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := &Nginx{Port: freePort(t), dir: dir}
	conf := filepath.Join(dir, "nginx.conf")
	body := strings.NewReplacer("{{dir}}", dir, "{{port}}", n.Port).Replace(nginxConf)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/sbin/nginx", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf).CombinedOutput(); err != nil {
		t.Fatalf("nginx: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if n.MasterPID > 0 {
			_ = syscall.Kill(n.MasterPID, syscall.SIGKILL)
		}
		for _, w := range n.Workers {
			_ = syscall.Kill(w, syscall.SIGKILL)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(dir, "nginx.pid"))
		if err != nil {
			continue
		}
		master, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			continue
		}
		n.MasterPID, n.Workers = master, children(master)
		if len(n.Workers) < 2 {
			continue
		}
		if code, err := n.Get(); err == nil && code == 200 {
			return n
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	t.Fatalf("nginx: no master with two serving workers in 10s:\n%s", log)
	return nil
}

// Get requests the index page from nginx and returns the status code.
func (n *Nginx) Get() (int, error) { return get("http://127.0.0.1:" + n.Port + "/") }

// Alive reports whether the master and every worker seen at start run.
func (n *Nginx) Alive() bool { return allAlive(append([]int{n.MasterPID}, n.Workers...)) }

// PHPWorker is a long-running www-data PHP CLI process, as a queue worker
// (`php artisan queue:work` under supervisor) runs beside php-fpm.
type PHPWorker struct {
	PID   int
	stdin io.WriteCloser
	out   *bufio.Reader
	cmd   *exec.Cmd
}

// phpWorkerScript answers each line with "ok": the test asks it to work.
const phpWorkerScript = `while (($line = fgets(STDIN)) !== false) { echo "ok\n"; }`

// StartPHPWorker starts PHP's CLI as www-data (uid and gid 33), by its
// real path (/usr/bin/php is a symlink the alternatives system keeps),
// and waits for its first answer.
func StartPHPWorker(t testing.TB) *PHPWorker {
	t.Helper()
	php, err := filepath.EvalSymlinks("/usr/bin/php")
	Require(t, err == nil, "needs Debian's php-cli (make deps)")
	cmd := exec.Command(php, "-r", phpWorkerScript)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 33, Gid: 33}}
	cmd.Dir = "/"
	stdin, out := StartPiped(t, cmd)
	w := &PHPWorker{PID: cmd.Process.Pid, stdin: stdin, out: out, cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := w.Work(); err != nil {
		t.Fatalf("%s as www-data: %v", php, err)
	}
	return w
}

// Work hands the worker one job and waits for its answer.
func (w *PHPWorker) Work() error {
	if _, err := fmt.Fprintln(w.stdin, "job"); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		line, err := w.out.ReadString('\n')
		if err == nil && line != "ok\n" {
			err = fmt.Errorf("answered %q", line)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("no answer in 5s")
	}
}

// Alive reports whether the worker runs.
func (w *PHPWorker) Alive() bool { return processAlive(w.PID) }

func allAlive(pids []int) bool {
	for _, pid := range pids {
		if !processAlive(pid) {
			return false
		}
	}
	return true
}

// children lists the pids whose parent is ppid.
func children(ppid int) []int {
	var kids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(ppid) {
			kids = append(kids, pid)
		}
	}
	return kids
}
