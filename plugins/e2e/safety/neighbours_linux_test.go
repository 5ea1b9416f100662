package safety

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// TestRootHandedProgramArray: a root daemon that is not Apache makes a
// private one-semaphore array, hands it to www-data (cuid 0, as Apache
// does) and forks a www-data worker 3 s later, then exits; the worker
// keeps using it. A rule that counted only owner processes older than
// the array would remove it.
func TestRootHandedProgramArray(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	u := ipctest.StartHandedUser(t, 33, 3*time.Second)
	actsRemovingNothing(t, "beside a root daemon's www-data worker")
	if err := u.Use(); err != nil {
		t.Errorf("the worker cannot use its array any more: %v", err)
	}
}

// TestRenamedApache: a copy of apache2 under a name no list knows, with
// mod_ssl. A census that knew Apache by name alone would see no Apache,
// and the session-cache mutex would go once its last user (a recycled
// worker) died. It maps libapr, which makes it Apache to the census.
func TestRenamedApache(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	s := startServer(t, ipctest.NewApacheWith(t, ipctest.ApacheOptions{TLS: true, Renamed: true}))
	defer ipctest.KillAll()
	if err := s.Graceful(); err != nil { // new workers, younger than the arrays
		t.Fatal(err)
	}
	s.arrays = ipctest.SemIDs(t)
	actsRemovingNothing(t, "beside a renamed apache2")
	s.healthy(t, "beside a renamed apache2")
	// Recognised as Apache (its master a master, its workers workers),
	// not merely kept by its www-data workers as any neighbour would be.
	fs, err := sysvipc.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	census, err := fs.ApacheCensus(map[uint32]bool{33: true})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := s.MasterPID()
	if err != nil {
		t.Fatal(err)
	}
	if p := census.Procs[pid]; p == nil || p.Role != sysvipc.RoleMaster || len(census.WithRole(sysvipc.RoleWorker)) == 0 {
		t.Errorf("the renamed apache2 (master %d) is not seen as Apache: %+v", pid, p)
	}
}

// zombieLeader is a www-data program whose main thread makes an array and
// ends with pthread_exit, while a second thread goes on using the array
// on request: the process shows state Z and runs.
const zombieLeader = `#include <pthread.h>
#include <stdio.h>
#include <sys/sem.h>
static int id;
static void *worker(void *arg) {
	char line[16];
	while (fgets(line, sizeof line, stdin)) {
		struct sembuf op = {0, -1, SEM_UNDO};
		int rc = semop(id, &op, 1);
		op.sem_op = 1;
		if (rc == 0) rc = semop(id, &op, 1);
		printf(rc == 0 ? "ok\n" : "error\n");
		fflush(stdout);
	}
	return 0;
}
int main(void) {
	pthread_t t;
	id = semget(IPC_PRIVATE, 1, 0600);
	if (id < 0 || semctl(id, 0, SETVAL, 1) < 0) return 1;
	printf("%d\n", id);
	fflush(stdout);
	pthread_create(&t, 0, worker, 0);
	pthread_exit(0);
}
`

// TestZombieLeaderProgram: a process whose main thread has exited shows
// state Z while its other thread goes on using its array; a census that
// dropped it as a zombie would make the array look unused.
func TestZombieLeaderProgram(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	dir := ipctest.WorldReadableDir(t, "ipcwatch-zombie-")
	src, bin := filepath.Join(dir, "zleader.c"), filepath.Join(dir, "zleader")
	if err := os.WriteFile(src, []byte(zombieLeader), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cc", "-pthread", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v: %s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 33, Gid: 33}}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	buf := make([]byte, 64)
	n, err := out.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strconv.Atoi(strings.TrimSpace(string(buf[:n]))); err != nil {
		t.Fatalf("zleader printed %q", buf[:n])
	}
	// Wait for the event the scenario is about: the main thread gone.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stat, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
		if strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the main thread did not exit: %s", stat)
		}
	}
	actsRemovingNothing(t, "beside a program whose main thread exited")
	if _, err := stdin.Write([]byte("use\n")); err != nil {
		t.Fatal(err)
	}
	if n, err := out.Read(buf); err != nil || strings.TrimSpace(string(buf[:n])) != "ok" {
		t.Errorf("the program cannot use its array any more: %q %v", buf[:n], err)
	}
}

// TestNamedLikeApacheNotKilled: a program that is not Apache but is named
// httpd, running as nobody (an Apache user by default) in a process group
// whose leader exited: it looks like an orphaned worker, and
// --kill-orphans must not kill it. Only an orphan that also maps libapr
// is killed.
func TestNamedLikeApacheNotKilled(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	dir := ipctest.WorldReadableDir(t, "ipcwatch-httpd-")
	b, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	httpd := filepath.Join(dir, "httpd")
	if err := os.WriteFile(httpd, b, 0o755); err != nil {
		t.Fatal(err)
	}
	// The launcher leads a new session and group, starts httpd in it and
	// exits: httpd is left in a group whose leader is gone.
	launcher := exec.Command("setsid", "sh", "-c", `setpriv --reuid=nobody --regid=nogroup --clear-groups "$0" 600 >/dev/null 2>&1 & echo $!`, httpd)
	out, err := launcher.Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("launcher printed %q", out)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
		if exe == httpd {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d never ran %s", pid, httpd)
		}
	}
	actsRemovingNothing(t, "with --kill-orphans beside a program named httpd", "--kill-orphans", "--orphan-grace", "1s")
	if !ipctest.Alive(pid) {
		t.Errorf("the program named httpd (pid %d) was killed", pid)
	}
}

// TestPHPFPMNeighbour: Debian's php-fpm with its www-data pool runs from
// before the leak to after it, as on most Apache hosts. Two SIGKILLed
// Apaches fill SEMMNI; with no Apache left, their arrays go and php-fpm
// is untouched (PHP cannot use a private array root made), and Apache
// starts again.
func TestPHPFPMNeighbour(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	fpm := ipctest.StartPHPFPM(t)
	if err := ipctest.SetSemLimits(250, 32000, 32, 2*ipctest.ArraysPerApacheStart); err != nil {
		t.Fatal(err)
	}
	leaked := append(leakGeneration(t), leakGeneration(t)...)
	ap := ipctest.NewApacheWith(t, ipctest.ApacheOptions{PHPFPM: fpm.Socket})
	if err := ap.Start(); err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Fatalf("apache with SEMMNI full: %v, want (28)No space left on device", err)
	}
	out, code := handler(t, append(slices.Clone(act), "--min-age", "0s")...)
	if code != 0 || !strings.Contains(out, "removed 6 of 6 stale arrays, 0 skipped, 0 failed; semaphore arrays 6 -> 0") {
		t.Errorf("beside php-fpm: exit %d, %s", code, out)
	}
	for _, id := range leaked {
		if slices.Contains(ipctest.SemIDs(t), id) {
			t.Errorf("leaked semid %d is still there", id)
		}
	}
	if !fpm.Alive() {
		t.Errorf("php-fpm (master %d, workers %v) did not survive", fpm.MasterPID, fpm.Workers)
	}
	startServer(t, ap).healthy(t, "after the leak was removed beside php-fpm")
	if _, err := ap.GetPHP(); err != nil {
		t.Errorf("php-fpm does not serve through the new Apache: %v", err)
	}
	ipctest.KillAll()
}

// TestOneProcessApacheNotKilled: a www-data `apache2 -X` serving, whose
// launcher exited: not root, no group leader, no children, an Apache name
// and libapr: root's --kill-orphans must not kill it. A process started
// in the foreground is never killed, whether its flags come as two
// arguments (`-D ONE_PROCESS -D FOREGROUND`, as apache2ctl and container
// images pass them) or its defines are in the config file with nothing on
// the command line: those servers too must survive. Only a daemon's
// `-k start` makes an orphan killable.
func TestOneProcessApacheNotKilled(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	for _, o := range []ipctest.ApacheOptions{
		{NonRootForeground: true, OneProcess: true},
		{NonRootForeground: true, SplitDefines: true},
		{NonRootForeground: true, DefinesInConfig: true}, // the fourth review: nothing on the command line
	} {
		oneProcessNotKilled(t, o)
	}
}

func oneProcessNotKilled(t *testing.T, o ipctest.ApacheOptions) {
	s := startServer(t, ipctest.NewApacheWith(t, o))
	defer ipctest.KillAll()
	pid, err := s.MasterPID()
	if err != nil {
		t.Fatal(err)
	}
	actsRemovingNothing(t, "with --kill-orphans beside apache2 -X", "--kill-orphans", "--orphan-grace", "1s")
	if !ipctest.Alive(pid) {
		t.Errorf("apache2 -X (pid %d) was killed", pid)
	}
	s.healthy(t, "after --kill-orphans beside apache2 -X")
}
