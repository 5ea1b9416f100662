package hooks

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// privateUser is a www-data program that is not Apache: it makes a
// private one-semaphore array, lets a child lock and unlock it and exit
// (so the last operation is by a dead pid), and goes on using it on
// request. It prints the semid.
const privateUser = `#include <stdio.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>
static int use(int id) {
	struct sembuf op = {0, -1, SEM_UNDO};
	if (semop(id, &op, 1) < 0) return -1;
	op.sem_op = 1;
	return semop(id, &op, 1);
}
int main(void) {
	char line[16];
	int id = semget(IPC_PRIVATE, 1, 0600);
	if (id < 0 || semctl(id, 0, SETVAL, 1) < 0) return 1;
	pid_t c = fork();
	if (c == 0) _exit(use(id) < 0);
	waitpid(c, 0, 0);
	printf("%d\n", id);
	fflush(stdout);
	while (fgets(line, sizeof line, stdin)) {
		printf(use(id) == 0 ? "ok\n" : "error\n");
		fflush(stdout);
	}
	return 0;
}
`

// TestEventHandlerBesideNeighbours: Debian's php-fpm
// with its www-data pool, serving PHP through the running Apache, a
// long-running www-data process and a www-data
// program using its own private array (its creator alive, its last user
// a child that exited) all run from before the leak. Two units' Apaches,
// started with the hooks, are SIGKILLed; a third Apache, no unit's, runs
// throughout. The event handler, run as Nagios runs it (nagios through
// the real sudo, the default minimum age), removes the two dead starts'
// arrays by their records, and nothing else.
func TestEventHandlerBesideNeighbours(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	handler := ipctest.ViaSudo(t, filepath.Join(binDir, "ipcwatch-remediate"))
	fpm := ipctest.StartPHPFPM(t)
	sleeper := exec.Command("/bin/sleep", "3600")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 33, Gid: 33}}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	private, use := startPrivateUser(t)

	// The running Apache serves PHP from the pool, as Debian sets it up.
	neighbour := ipctest.NewApacheWith(t, ipctest.ApacheOptions{PHPFPM: fpm.Socket})
	if err := neighbour.Start(); err != nil {
		t.Fatal(err)
	}
	defer ipctest.KillAll()
	if _, err := neighbour.GetPHP(); err != nil {
		t.Fatalf("php-fpm does not serve through Apache: %v", err)
	}
	var theirs []int32
	for _, id := range ipctest.SemIDs(t) {
		if id != private {
			theirs = append(theirs, id)
		}
	}
	h := &host{} // the defaults, under ViaSudo's private /run and /var/log
	var units []*unit
	for _, name := range []string{"apache2.service", "apache2@second.service"} {
		u := &unit{name: name, ap: ipctest.NewApache(t)}
		if _, _, err := h.start(t, u); err != nil {
			t.Fatal(err)
		}
		units = append(units, u)
	}
	var leaked []int32
	for _, u := range units {
		if err := u.ap.Crash(); err != nil {
			t.Fatal(err)
		}
		leaked = append(leaked, u.arrays...)
	}
	out, code := handler("--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("removed %d of %d stale arrays, 0 skipped, 0 failed", len(leaked), len(leaked))) {
		t.Errorf("the event handler: exit %d, %s", code, out)
	}
	ipctest.Gone(t, leaked, true, "the dead starts' arrays")
	healthy(t, neighbour, theirs, "the running Apache, after the event handler")
	ipctest.Gone(t, []int32{private}, false, "the www-data program's own array")
	if err := use(); err != nil {
		t.Errorf("the www-data program cannot use its array: %v", err)
	}
	if !fpm.Alive() {
		t.Errorf("php-fpm (master %d) did not survive", fpm.MasterPID)
	}
	if _, err := neighbour.GetPHP(); err != nil {
		t.Errorf("php-fpm no longer serves through Apache: %v", err)
	}
	if err := sleeper.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the long-running www-data process did not survive: %v", err)
	}
}

// startPrivateUser builds and starts privateUser as www-data; use asks it
// to lock and unlock its array once.
func startPrivateUser(t *testing.T) (int32, func() error) {
	t.Helper()
	dir := ipctest.WorldReadableDir(t, "ipcwatch-private-")
	src, bin := filepath.Join(dir, "private.c"), filepath.Join(dir, "private")
	if err := os.WriteFile(src, []byte(privateUser), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 33, Gid: 33}}
	stdin, r := ipctest.StartPiped(t, cmd)
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	var id int32
	if _, err := fmt.Fscanf(r, "%d\n", &id); err != nil {
		t.Fatalf("the www-data program printed no semid: %v", err)
	}
	return id, func() error {
		if _, err := io.WriteString(stdin, "use\n"); err != nil {
			return err
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.TrimSpace(line) != "ok" {
			return fmt.Errorf("semop: %s", line)
		}
		return nil
	}
}
