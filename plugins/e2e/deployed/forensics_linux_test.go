package deployed

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestOOMKilledGeneration is a real OOM kill, then leak forensics. Two
// Apache generations leak in the test's IPC namespace: one SIGKILLed
// (its process group), then one in a memory cgroup of 96 MiB whose
// rewrite map allocates without bound when a request asks it, Apache's
// own processes first in the OOM killer's choice (oom_score_adj 1000).
// The kernel's OOM killer kills them (only the cgroup's processes are
// candidates). The installed check as root names the OOM generation
// oom_killed with the kernel's own line and the other cause unknown; as
// nagios (no CAP_SYSLOG) both are unknown and it says why; the shim as
// root reports one generation per cause; the handler through sudo removes
// both and its audit record carries the causes. The test runs in the
// host's PID namespace, which numbers pids as the kernel's log does.
func TestOOMKilledGeneration(t *testing.T) {
	if !ipctest.EnterHostPID(t) {
		return
	}
	root := installed(t)
	asInstalledHost(t, root)
	must(t, ipctest.SetSemLimits(250, 32000, 32, 32))

	// The SIGKILLed generation: a crash of one server, its group alone.
	killed := ipctest.NewApache(t)
	must(t, killed.Start())
	killedIDs := ipctest.SemIDs(t)
	must(t, killed.Crash())
	// A generation is the arrays made within 2 s of each other: the next
	// start comes later.
	for now := time.Now(); time.Since(now) < 3*time.Second; time.Sleep(100 * time.Millisecond) {
	}

	cg := ipctest.NewMemoryCgroup(t, 96<<20)
	hog := ipctest.NewApacheWith(t, ipctest.ApacheOptions{Cgroup: cg.Dir, MemoryHog: true})
	must(t, hog.Start())
	// Apache's processes first, the map program (whatever score it was
	// born with) after them.
	var apache []int
	for _, pid := range cg.Procs() {
		adj := "0"
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "apache2" {
			apache = append(apache, pid)
			adj = "1000"
		}
		must(t, os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), []byte(adj), 0))
	}
	oomIDs := slices.DeleteFunc(ipctest.SemIDs(t), func(id int32) bool { return slices.Contains(killedIDs, id) })
	t.Logf("the OOM generation: apache2 pids %v, arrays %v; the SIGKILLed one's arrays %v", apache, oomIDs, killedIDs)

	// The request that pushes the cgroup past its limit: its worker dies
	// waiting for the map's answer. A request answered while Apache
	// lives is sent again (three at most), and every answer is told if
	// Apache outlives them all.
	outage := time.Now()
	answered := make(chan string, 1)
	ask := func() {
		sent := time.Now()
		resp, err := (&http.Client{Timeout: time.Minute}).Get(hog.URL("/hog/x"))
		if err != nil {
			answered <- err.Error()
			return
		}
		resp.Body.Close()
		answered <- fmt.Sprintf("%s after %s", resp.Status, time.Since(sent).Round(time.Millisecond))
	}
	go ask()
	var replies []string
	for deadline := time.Now().Add(time.Minute); slices.ContainsFunc(apache, ipctest.Alive); time.Sleep(50 * time.Millisecond) {
		select {
		case a := <-answered:
			replies = append(replies, a)
			if len(replies) < 3 && slices.ContainsFunc(apache, ipctest.Alive) {
				go ask()
			}
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the OOM killer left Apache running: %v alive; the requests' answers: %q\nthe cgroup:\n%s\nApache's log:\n%s",
				slices.DeleteFunc(slices.Clone(apache), func(p int) bool { return !ipctest.Alive(p) }), replies, cg.Diagnose(), hog.Log())
		}
	}
	if len(replies) > 0 {
		t.Logf("requests answered while Apache lived: %q", replies)
	}
	t.Logf("the OOM killer ended Apache %s after the request", time.Since(outage).Round(10*time.Millisecond))
	must(t, cg.KillAll()) // the map program, if the OOM killer left it

	check := filepath.Join(root, "usr/lib/nagios/plugins/check_sysvipc")
	out, _ := ipctest.RunLogged(t, exec.Command(check, "-v", "--min-age", "0s", "--stale-warning", "0"))
	oomLine := regexp.MustCompile(`(?m)^2 leaked generations: \d\d:\d\d cause unknown, \d\d:\d\d OOM killer \(pid (\d+) apache2\)$`)
	m := oomLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the check as root does not name the OOM generation (want %s)", oomLine)
	}
	if !slices.Contains(apache, atoi(t, m[1])) {
		t.Errorf("the check names pid %s, not one of the OOM generation's %v", m[1], apache)
	}
	kernel := regexp.MustCompile(`(?m)^  made .*, semid [\d, ]+: oom_killed at [\d-]+ \d\d:\d\d:\d\d \S+: Memory cgroup out of memory: Killed process ` + m[1] + ` \(apache2\) total-vm:`)
	if !kernel.MatchString(out) {
		t.Errorf("the check does not quote the kernel's line (want %s)", kernel)
	}
	if want := regexp.MustCompile(`(?m)^  made .*: unknown: no kernel log line names pid [\d, ]+(; journal not read: .*)?$`); !want.MatchString(out) {
		t.Errorf("the SIGKILLed generation's cause is not unknown for want of a line (want %s)", want)
	}

	// Without CAP_SYSLOG the kernel log is closed: no cause is invented,
	// and the check says why. Root without that one capability sees
	// every process, so the count is the same.
	// (Where kernel.dmesg_restrict is 0 everyone reads the kernel log,
	// and there is nothing to withhold.)
	noSyslog, _ := ipctest.RunLogged(t, exec.Command("setpriv", "--bounding-set=-syslog", check, "-v", "--min-age", "0s", "--stale-warning", "0"))
	if want := regexp.MustCompile(`(?m)^2 leaked generations: \d\d:\d\d cause unknown, \d\d:\d\d cause unknown$`); dmesgRestricted() && !want.MatchString(noSyslog) {
		t.Errorf("the check without CAP_SYSLOG: want %s", want)
	}
	if want := regexp.MustCompile(`(?m)^  made .*: unknown: kernel log unreadable: open /dev/kmsg: operation not permitted \(uid 0; with kernel\.dmesg_restrict=1 only root, with CAP_SYSLOG, reads it\)`); dmesgRestricted() && !want.MatchString(noSyslog) {
		t.Errorf("the check without CAP_SYSLOG does not say why the cause is unknown (want %s)", want)
	}
	// As nagios too. Its stale count may differ here: this test shares
	// the host's PID namespace, where other tests' Apaches run in IPC
	// namespaces nagios cannot read; whatever it counts, it names no cause.
	uid, gid := ipctest.Account(t, "nagios", 0)
	asNagios, _ := runAs(t, uid, gid, "", check, "-v", "--min-age", "0s", "--stale-warning", "0")
	if dmesgRestricted() && (strings.Contains(asNagios, "OOM killer") || strings.Contains(asNagios, "oom_killed")) {
		t.Errorf("the check as nagios names a cause it cannot have read")
	}
	if dmesgRestricted() && strings.Contains(asNagios, "leaked generation") && !strings.Contains(asNagios, "kernel log unreadable: open /dev/kmsg") {
		t.Errorf("the check as nagios does not say why the causes are unknown")
	}

	shim := gatherLines(t, filepath.Join(root, "usr/bin/ipcwatch-telegraf"), "sysvipc_shm ")
	for _, want := range []string{"sysvipc_leak,cause=oom_killed generations=1i ", "sysvipc_leak,cause=unknown generations=1i "} {
		if !strings.Contains(shim, want) {
			t.Errorf("the shim as root lacks %q", want)
		}
	}

	handler := filepath.Join(root, "usr/sbin/ipcwatch-remediate")
	sudo, code := runAs(t, uid, gid, "", "/usr/bin/sudo", "-n", handler, "--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3")
	if code != 0 || !strings.Contains(sudo, "removed 6 of 6 stale arrays") || !regexp.MustCompile(`(?m)^  2 leaked generations: .*OOM killer \(pid \d+ apache2\)`).MatchString(sudo) {
		t.Errorf("the handler through sudo: exit %d", code)
	}
	causes := map[string]int{}
	for _, r := range readAudit(t) {
		for _, g := range r.Generations {
			causes[g.Cause]++
			if g.Cause == "oom_killed" && (!strings.Contains(g.Line, "apache2") || len(g.Line) > 200 || g.At == nil) {
				t.Errorf("the audit's OOM generation: %+v", g)
			}
		}
	}
	if causes["oom_killed"] != 1 || causes["unknown"] != 1 {
		t.Errorf("the audit's generations by cause: %v, want one oom_killed and one unknown", causes)
	}
	answers(t, killed, "after the handler removed both generations")
}

// gatherLines runs the shim as root for one gather and returns its line
// protocol up to the first line starting with until.
func gatherLines(t *testing.T, shim, until string) string {
	t.Helper()
	cmd := exec.Command(shim, "-poll_interval_disabled")
	stdin, stdout := ipctest.StartPiped(t, cmd)
	kill := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
	defer kill.Stop()
	if _, err := stdin.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for sc := bufio.NewScanner(stdout); sc.Scan(); {
		b.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), until) {
			break
		}
	}
	stdin.Close()
	_ = cmd.Wait()
	t.Logf("the shim as root:\n%s", b.String())
	return b.String()
}

// dmesgRestricted: kernel.dmesg_restrict is 1, so only CAP_SYSLOG reads
// the kernel log.
func dmesgRestricted() bool {
	b, err := os.ReadFile("/proc/sys/kernel/dmesg_restrict")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
