package check

import (
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

var nobody = &syscall.Credential{Uid: 65534, Gid: 65534}

// TestLevels drives the built check from OK to WARNING to CRITICAL by
// creating arrays in a private IPC namespace with SEMMNI lowered to 10.
func TestLevels(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	if err := ipctest.SetSemLimits(250, 32000, 32, 10); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		arrays int
		code   int
		first  string
	}{
		{0, 0, "SYSVIPC OK - 0/10 semaphore arrays (0.0%) | sem_arrays=0;8;9;0;10 "},
		{8, 0, "SYSVIPC OK - 8/10 semaphore arrays (80.0%) | sem_arrays=8;8;9;0;10 "},
		{9, 1, "SYSVIPC WARNING - 9/10 semaphore arrays (90.0%) | sem_arrays=9;8;9;0;10 "},
		{10, 2, "SYSVIPC CRITICAL - 10/10 semaphore arrays (100.0%) | sem_arrays=10;8;9;0;10 "},
	}
	made := 0
	for _, s := range steps {
		for ; made < s.arrays; made++ {
			if _, err := ipctest.SemGet(0, 1, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for _, who := range []*syscall.Credential{nil, nobody} {
			out, code := runCheckAs(t, who, "")
			if code != s.code || !strings.HasPrefix(out, s.first) {
				t.Errorf("%d arrays, as %v: exit %d, %q; want %d, %q...", s.arrays, who, code, out, s.code, s.first)
			}
		}
	}
	if _, err := ipctest.SemGet(0, 1, 0o600); err == nil {
		t.Error("an eleventh array was allowed past SEMMNI 10")
	}
}

// TestStaleApache counts a real Apache's leaked arrays: two SIGKILLed
// servers leak six while a third runs, which keeps them unknown (it may
// have made any older array in its start-up); killed too, all nine are
// stale.
func TestStaleApache(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	if err := ipctest.SetSemLimits(250, 32000, 32, 3*ipctest.ArraysPerApacheStart); err != nil {
		t.Fatal(err)
	}
	ap := ipctest.NewApache(t)
	for range 2 {
		if err := ap.Start(); err != nil {
			t.Fatal(err)
		}
		if err := ipctest.KillAll(); err != nil {
			t.Fatal(err)
		}
	}
	ipctest.WaitOlder(t, ipctest.PastSlack)
	if err := ap.Start(); err != nil {
		t.Fatal(err)
	}
	defer ipctest.KillAll()

	out, code := runCheck(t, "", "--stale-warning", "0", "--stale-critical", "5", "--min-age", "0s", "-v", "-w", "101%", "-c", "101%")
	if code != 0 || !strings.HasPrefix(out, "SYSVIPC OK - 9/9 semaphore arrays (100.0%), 0 stale apache arrays |") ||
		!strings.Contains(out, "not proven stale or live: 6 master_may_own; a running apache master may have made any array older than itself in its start-up") {
		t.Errorf("beside a running master: exit %d:\n%s", code, out)
	}
	// The running server's own young arrays, its start-up process gone
	// (the last user of the one mod_ssl-style mutex made before the
	// fork), are no young leak: a running master decides them.
	out, _ = runCheck(t, "", "--stale-warning", "0", "-v", "-w", "101%", "-c", "101%")
	if strings.Contains(out, "kept only for their age") {
		t.Errorf("beside a running master, its young arrays are called young leaks:\n%s", out)
	}
	if err := ipctest.KillAll(); err != nil {
		t.Fatal(err)
	}

	out, code = runCheck(t, "", "--stale-warning", "0", "--stale-critical", "5", "--min-age", "0s", "-vv")
	first := "SYSVIPC CRITICAL - 9/9 semaphore arrays (100.0%), 9 stale apache arrays | sem_arrays=9;7.2;8.1;0;9 "
	if code != 2 || !strings.HasPrefix(out, first) || !strings.Contains(out, " stale_arrays=9;0;5;0;\n") {
		t.Errorf("exit %d:\n%s\nwant 2 and first line %q... stale_arrays=9;0;5;0;", code, out, first)
	}
	stale := regexp.MustCompile(`(?m)^stale semid \d+: owner www-data, idle \S+, last pid \d+ dead \(no_apache_running, last_pid_dead\)$`)
	if n := len(stale.FindAllString(out, -1)); n != 9 {
		t.Errorf("%d stale lines at -vv, want 9:\n%s", n, out)
	}

	// The default min age (5m) keeps fresh leaks out: reported 0, OK on
	// stale; -v says they wait for their age and from when they count.
	out, _ = runCheck(t, "", "--stale-warning", "0", "-c", "101%", "-w", "101%", "-v")
	young := regexp.MustCompile(`(?m)^9 arrays kept only for their age would be stale: changed within min_age 5m0s, (?:the first )?judged from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC(?:, the last from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)? if unchanged$`)
	if !strings.HasPrefix(out, "SYSVIPC OK - 9/9 semaphore arrays (100.0%), 0 stale apache arrays |") || !young.MatchString(out) {
		t.Errorf("with the default min age: %s", out)
	}

	// As nobody the counts hold, and the stale count is not made up: the
	// arrays it cannot read make it UNKNOWN, saying how many and as whom,
	// with no stale_arrays perfdata.
	out, code = runCheckAs(t, nobody, "", "--stale-warning", "0", "--min-age", "0s", "-v", "-c", "101%", "-w", "101%")
	if code != 3 || !strings.HasPrefix(out, "SYSVIPC UNKNOWN - stale apache arrays not measured: 9 apache arrays unreadable as uid 65534 (nobody) (semctl needs read permission") ||
		strings.Contains(out, "stale_arrays=") || !strings.Contains(out, "9/9 semaphore arrays (100.0%)") ||
		!strings.Contains(out, fmt.Sprintf("not proven stale or live: %d detail_unreadable; semctl needs read permission", 9)) {
		t.Errorf("as nobody: exit %d:\n%s", code, out)
	}
}

// TestNamespaces checks containers' IPC namespaces from outside: two child
// namespaces made with unshare, one of them full.
func TestNamespaces(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	if err := ipctest.SetSemLimits(250, 32000, 32, 50); err != nil {
		t.Fatal(err)
	}
	if _, err := ipctest.SemGet(0, 1, 0o600); err != nil {
		t.Fatal(err)
	}
	a := ipctest.StartChildNamespace(t, [4]int{250, 32000, 32, 20}, 3, 33)
	b := ipctest.StartChildNamespace(t, [4]int{250, 32000, 32, 10}, 10, 33)

	out, code := runCheck(t, "")
	if code != 0 || !strings.HasPrefix(out, "SYSVIPC OK - 1/50 semaphore arrays (2.0%) | sem_arrays=1;40;45;0;50 ") {
		t.Errorf("own namespace: exit %d, %s", code, out)
	}
	out, code = runCheck(t, "", "--pid", fmt.Sprint(a.PID))
	if code != 0 || !regexp.MustCompile(`^SYSVIPC OK - ipc:\[\d+\] \(pid `+fmt.Sprint(a.PID)+`\): 3/20 semaphore arrays \(15\.0%\) \| sem_arrays=3;16;18;0;20 `).MatchString(out) {
		t.Errorf("--pid %d: exit %d, %s", a.PID, code, out)
	}
	out, code = runCheck(t, "", "--pid", fmt.Sprint(b.PID), "--stale-warning", "0", "--min-age", "0s")
	if code != 2 || !strings.Contains(out, "10/10 semaphore arrays (100.0%), 10 stale apache arrays |") {
		t.Errorf("--pid %d: exit %d, %s", b.PID, code, out)
	}
	out, code = runCheck(t, "", "--all-namespaces", "--stale-warning", "0", "--min-age", "0s", "-v")
	first := regexp.MustCompile(`^SYSVIPC CRITICAL - ipc:\[\d+\] \(pid ` + fmt.Sprint(b.PID) + `\): 10/10 semaphore arrays \(100\.0%\), 10 stale apache arrays; worst of 3 namespaces \| sem_arrays=1;40;45;0;50 `)
	if code != 2 || !first.MatchString(out) {
		t.Errorf("--all-namespaces: exit %d, %s", code, out)
	}
	for _, want := range []string{
		"(pid " + fmt.Sprint(a.PID) + "): WARNING - 3 stale apache arrays, 3/20 semaphore arrays (15.0%)",
		"(pid " + fmt.Sprint(b.PID) + "): CRITICAL - 10/10 semaphore arrays (100.0%), 10 stale apache arrays",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--all-namespaces -v lacks %q:\n%s", want, out)
		}
	}
	if _, code := runCheck(t, "", "--pid", "999999"); code != 3 {
		t.Errorf("--pid of no process: exit %d, want 3", code)
	}
}
