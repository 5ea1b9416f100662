package deployed

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// A LAMP host as it runs: nginx in front of Apache, php-fpm, a PHP queue
// worker, all with www-data processes that run for as long as the host
// does. Two Apache generations were SIGKILLed and Apache cannot start.
// A www-data process may use an array root made and handed to www-data
// (as Apache does), so until root declares what never does, such a
// neighbour keeps the leak; the handler, the check and the audit name it
// and say how to declare it.

// neighbourCase is one kind of long-running www-data neighbour.
type neighbourCase struct {
	exe   string               // the executable root declares
	name  string               // for the messages
	start func(*testing.T) int // starts it; returns the pid a kept array names
	works func() error         // it still does its job
	alive func() bool          // every process of it runs
}

// TestLAMPNginxInFront: Debian's nginx, a root master and two www-data
// workers serving on loopback, runs in front of the dead Apache.
func TestLAMPNginxInFront(t *testing.T) {
	var n *ipctest.Nginx
	outageBesideNeighbour(t, neighbourCase{
		exe:  "/usr/sbin/nginx",
		name: "nginx",
		start: func(t *testing.T) int {
			n = ipctest.StartNginx(t)
			return slices.Min(n.Workers) // the blocker named: www-data's lowest pid
		},
		works: func() error {
			if code, err := n.Get(); err != nil || code != 200 {
				return fmt.Errorf("HTTP %d, %v", code, err)
			}
			return nil
		},
		alive: func() bool { return n.Alive() },
	})
}

// TestLAMPQueueWorker: a long-running www-data PHP CLI process (a queue
// worker under supervisor) beside php-fpm's www-data pool. php-fpm needs
// no declaration; the PHP CLI does.
func TestLAMPQueueWorker(t *testing.T) {
	php, err := filepath.EvalSymlinks("/usr/bin/php")
	ipctest.Require(t, err == nil, "needs Debian's php-cli (make deps)")
	var w *ipctest.PHPWorker
	var fpm *ipctest.PHPFPM
	outageBesideNeighbour(t, neighbourCase{
		exe:  php,
		name: "the PHP queue worker",
		start: func(t *testing.T) int {
			fpm = ipctest.StartPHPFPM(t)
			w = ipctest.StartPHPWorker(t)
			return w.PID
		},
		works: func() error { return w.Work() },
		alive: func() bool { return w.Alive() && fpm.Alive() },
	})
}

// outageBesideNeighbour is the outage beside one undeclared, then
// declared, neighbour, with what make install put in place: the handler
// through the real sudo as nagios, the check as root and as nagios (with
// its file capability), root's policy file.
func outageBesideNeighbour(t *testing.T, nc neighbourCase) {
	t.Helper()
	if !ipctest.Enter(t) {
		return
	}
	root := installed(t)
	asInstalledHost(t, root)
	nagiosUID, nagiosGID := ipctest.Account(t, "nagios", 0)
	if nagiosUID == 0 {
		t.Fatal("Debian's nagios4-core makes the nagios user (make deps)")
	}
	blocker := nc.start(t)
	serving := watchServing(nc.works)
	ap := leakGenerations(t, 2)
	if err := ap.Start(); err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Fatalf("apache with SEMMNI full: %v", err)
	}
	leaked := ipctest.SemIDs(t)
	if len(leaked) != 2*ipctest.ArraysPerApacheStart {
		t.Fatalf("two dead generations left %d arrays, want %d", len(leaked), 2*ipctest.ArraysPerApacheStart)
	}
	policy := filepath.Join(root, "etc/ipcwatch/remediate.conf")
	handler := filepath.Join(root, "usr/sbin/ipcwatch-remediate")
	check := filepath.Join(root, "usr/lib/nagios/plugins/check_sysvipc")
	event := func() string {
		t.Helper()
		out, code := runAs(t, nagiosUID, nagiosGID, "", "/usr/bin/sudo", "-n", handler, "--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3")
		if code != 0 {
			t.Errorf("the event handler through sudo: exit %d", code)
		}
		return out
	}
	checkAs := func(uid, gid int) string {
		t.Helper()
		out, _ := runAs(t, uid, gid, "", check, "--stale-warning", "0", "--stale-critical", "5", "--min-age", "0s", "-v")
		return out
	}
	keptBy := fmt.Sprintf("%d arrays owner_process_alive: kept by pid %d (www-data, %s, started ", len(leaked), blocker, nc.exe)
	declare := fmt.Sprintf("declare it a neighbour in %s (neighbours = [%q])", policy, nc.exe)

	// Nothing declared, no record: nothing is removed, and the output
	// names the process that kept the leak and how to declare it.
	out := event()
	for _, want := range []string{
		fmt.Sprintf("removed 0 of 0 stale arrays, 0 skipped, 0 failed; semaphore arrays %d -> %d", len(leaked), len(leaked)),
		fmt.Sprintf("kept, not proven stale: %d owner_process_alive", len(leaked)),
		keptBy, declare,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("beside %s, undeclared: the handler's output lacks %q", nc.name, want)
		}
	}
	ipctest.Gone(t, leaked, false, "after the handler beside an undeclared "+nc.name)
	// A start of the unit runs its before-start hook as root: its one
	// line names the blocker too.
	line := hook(t, handler, "--before-start", "--unit", "apache2.service")
	if want := fmt.Sprintf("kept: %d owner_process_alive; kept by pid %d (www-data, %s, started ", len(leaked), blocker, nc.exe); !strings.Contains(line, want) {
		t.Errorf("beside %s, undeclared: the before-start hook's line lacks %q", nc.name, want)
	}
	out = checkAs(0, 0)
	if !strings.Contains(out, ", 0 stale apache arrays |") || !strings.Contains(out, " stale_arrays=0;0;5;0;") || !strings.Contains(out, keptBy) {
		t.Errorf("beside %s, undeclared: the check as root counts 0 stale and names pid %d:\n%s", nc.name, blocker, out)
	}
	// As nagios the executable of a www-data process cannot be read, so
	// the check cannot tell a declared neighbour from anything else: it
	// says so, and prints no stale count.
	// (It names www-data's process of lowest pid: with php-fpm beside
	// the queue worker, a pool worker, which it cannot tell apart either.)
	unverified := func(when string) {
		t.Helper()
		out := checkAs(nagiosUID, nagiosGID)
		if !strings.Contains(out, fmt.Sprintf("stale apache arrays not measured: %d apache arrays kept by a process whose executable is unreadable as uid %d (nagios)", len(leaked), nagiosUID)) ||
			strings.Contains(out, "stale_arrays=") || !strings.Contains(out, "owner_exe_unreadable: kept by pid ") || !strings.Contains(out, " (www-data, executable unreadable, started ") {
			t.Errorf("%s, as nagios: the check does not say why it cannot count:\n%s", when, out)
		}
	}
	unverified("beside an undeclared " + nc.name)

	// Root declares it: exactly the leak is stale and goes.
	conf := fmt.Sprintf("min_age = \"0s\"\nneighbours = [%q]\n", nc.exe)
	if err := os.WriteFile(policy, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out = checkAs(0, 0)
	if !strings.Contains(out, fmt.Sprintf(", %d stale apache arrays |", len(leaked))) || !strings.Contains(out, fmt.Sprintf(" stale_arrays=%d;0;5;0;", len(leaked))) {
		t.Errorf("beside a declared %s: the check as root does not count exactly the leak stale:\n%s", nc.name, out)
	}
	unverified("beside a declared " + nc.name)
	out = event()
	if !strings.Contains(out, fmt.Sprintf("removed %d of %d stale arrays, 0 skipped, 0 failed; semaphore arrays %d -> 0", len(leaked), len(leaked), len(leaked))) {
		t.Errorf("beside a declared %s: the handler did not remove exactly the leak:\n%s", nc.name, out)
	}
	ipctest.Gone(t, leaked, true, "after the handler beside a declared "+nc.name)
	answers(t, ap, "after the handler beside a declared "+nc.name)
	if ok, failed := serving(); failed > 0 || ok == 0 {
		t.Errorf("%s did its job %d times and failed %d times while the handler ran", nc.name, ok, failed)
	}
	if !nc.alive() {
		t.Errorf("%s did not survive", nc.name)
	}
	// The audit: the first call names the blocker, the hook is root's,
	// the last call removed the leak; the two calls are nagios's, through
	// sudo.
	audit := readAudit(t)
	if len(audit) != 3 {
		t.Fatalf("the audit log holds %d records, want 3", len(audit))
	}
	for _, i := range []int{0, 2} {
		if c := audit[i].Caller; !strings.HasPrefix(c, "nagios (uid ") || !strings.HasSuffix(c, ", through sudo)") {
			t.Errorf("audit record %d: caller %q, want nagios through sudo", i, c)
		}
	}
	if h := audit[1].Hook; h == nil || h.Hook != "before-start" || audit[1].Caller != "uid 0" {
		t.Errorf("audit record 1: %+v by %q, want root's before-start", h, audit[1].Caller)
	}
	for _, i := range []int{0, 1} {
		k := audit[i].Summary.KeptBy
		if len(k) != 1 || k[0].Reason != "owner_process_alive" || k[0].Arrays != len(leaked) || k[0].By.PID != blocker || k[0].By.Exe != nc.exe || k[0].By.User != "www-data" {
			t.Errorf("audit record %d names %+v, want pid %d (%s) keeping %d arrays", i, k, blocker, nc.exe, len(leaked))
		}
	}
	if got := audit[2].Summary.Removed.Count; got != len(leaked) {
		t.Errorf("the last audit record removed %d, want %d", got, len(leaked))
	}
}

// auditRecord is what these tests read of an installed handler's audit
// line.
type auditRecord struct {
	Caller      string `json:"caller"`
	Generations []struct {
		Cause string     `json:"cause"`
		At    *time.Time `json:"at"`
		PID   int        `json:"pid"`
		Line  string     `json:"line"`
		Why   string     `json:"why"`
	} `json:"generations"`
	Hook *struct {
		Hook string `json:"hook"`
	} `json:"hook"`
	Summary struct {
		KeptBy []struct {
			Reason string `json:"reason"`
			Arrays int    `json:"arrays"`
			By     struct {
				PID  int    `json:"pid"`
				User string `json:"user"`
				Exe  string `json:"exe"`
			} `json:"by"`
		} `json:"kept_by"`
		Removed struct {
			Count int `json:"count"`
		} `json:"removed"`
	} `json:"summary"`
}

// readAudit reads the installed handler's audit log, a JSON record a line.
func readAudit(t *testing.T) []auditRecord {
	t.Helper()
	b, err := os.ReadFile("/var/log/ipcwatch/remediate.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var recs []auditRecord
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r auditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// hook runs one of the installed handler's unit hooks as systemd runs it
// (as root) and returns its one line; a hook exits 0 whatever happens.
func hook(t *testing.T, handler string, args ...string) string {
	t.Helper()
	out, code := ipctest.RunLogged(t, exec.Command(handler, args...))
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("hook %v: exit %d, want 0 and one line:\n%s", args, code, out)
	}
	return out
}

// watchServing asks the neighbour to do its job every 20 ms until the
// returned function is called, which reports how often it did and failed.
func watchServing(works func() error) func() (ok, failed int) {
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	var okN, failN int
	go func() {
		defer close(done)
		for {
			err := works()
			mu.Lock()
			if err != nil {
				failN++
			} else {
				okN++
			}
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() (int, int) {
		close(stop)
		<-done
		return okN, failN
	}
}

// TestLAMPWitnessedBesideApache: the unit drop-in's records prove a dead
// start's arrays leaked beside a running Apache, for every face. An
// Apache that is no unit's serves throughout; the unit's own start, with
// the installed hooks run as systemd runs them, crashes. Undeclared
// neighbours run too: nginx, php-fpm, a PHP queue worker. The installed
// check as nagios and a real Telegraf as telegraf (their file capability,
// the shipped defaults: a 5-minute minimum age) count exactly the
// witnessed arrays stale; the event handler through sudo removes exactly
// those, and the running Apache keeps its own and answers.
func TestLAMPWitnessedBesideApache(t *testing.T) {
	requireTelegraf(t)
	if !ipctest.Enter(t) {
		return
	}
	root := installed(t)
	asInstalledHost(t, root)
	// The shipped policy, not the lowered minimum age of asInstalledHost:
	// a record needs no minimum age.
	shipped, err := os.ReadFile("../../../nagios/shipped/ipcwatch/remediate.conf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/ipcwatch/remediate.conf"), shipped, 0o644); err != nil {
		t.Fatal(err)
	}
	nagiosUID, nagiosGID := ipctest.Account(t, "nagios", 0)
	telegrafUID, telegrafGID := ipctest.Account(t, "telegraf", 60999)
	if nagiosUID == 0 {
		t.Fatal("Debian's nagios4-core makes the nagios user (make deps)")
	}
	nginx := ipctest.StartNginx(t)
	fpm := ipctest.StartPHPFPM(t)
	worker := ipctest.StartPHPWorker(t)

	running := ipctest.NewApache(t)
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	defer ipctest.KillAll()
	theirs := ipctest.SemIDs(t)

	handler := filepath.Join(root, "usr/sbin/ipcwatch-remediate")
	unit := ipctest.NewApache(t)
	hook(t, handler, "--before-start", "--unit", "apache2.service")
	if err := unit.Start(); err != nil {
		t.Fatal(err)
	}
	witnessed := slices.DeleteFunc(ipctest.SemIDs(t), func(id int32) bool { return slices.Contains(theirs, id) })
	pid, err := unit.MasterPID()
	if err != nil {
		t.Fatal(err)
	}
	hook(t, handler, "--after-start", "--unit", "apache2.service", "--main-pid", strconv.Itoa(pid))
	if err := unit.Crash(); err != nil {
		t.Fatal(err)
	}
	n := len(witnessed)

	check := filepath.Join(root, "usr/lib/nagios/plugins/check_sysvipc")
	out, code := runAs(t, nagiosUID, nagiosGID, "", check, "--stale-warning", "0", "--stale-critical", "5", "-v")
	if code != 1 || !strings.HasPrefix(out, fmt.Sprintf("SYSVIPC WARNING - %d stale apache arrays, ", n)) || !strings.Contains(out, fmt.Sprintf(" stale_arrays=%d;0;5;0;", n)) {
		t.Errorf("the installed check as nagios counts %d witnessed arrays stale (WARNING): exit %d\n%s", n, code, out)
	}
	line := realTelegrafAs(t, root, telegrafUID, telegrafGID)
	fields := strings.Split(strings.Fields(line)[1], ",")
	for _, want := range []string{fmt.Sprintf("stale_arrays=%di", n), "unjudged_arrays=0i", fmt.Sprintf("arrays=%di", len(theirs)+n)} {
		if !slices.Contains(fields, want) {
			t.Errorf("Telegraf as telegraf with the installed snippet lacks %s: %s", want, line)
		}
	}

	// The event handler acts on CRITICAL HARD (stale arrays past
	// --stale-critical, or SEMMNI near full); below that the next start's
	// before-start hook removes them.
	out, code = runAs(t, nagiosUID, nagiosGID, "", "/usr/bin/sudo", "-n", handler, "--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("removed %d of %d stale arrays, 0 skipped, 0 failed", n, n)) {
		t.Errorf("the event handler through sudo: exit %d\n%s", code, out)
	}
	ipctest.Gone(t, witnessed, true, "the crashed start's witnessed arrays")
	ipctest.Gone(t, theirs, false, "the running Apache's arrays")
	if code, err := running.Get("/index.html"); err != nil || code != 200 {
		t.Errorf("the running Apache answers %d, %v", code, err)
	}
	if errs := running.MutexErrors(); len(errs) > 0 {
		t.Errorf("mutex errors in the running Apache's log:\n%s", strings.Join(errs, "\n"))
	}
	if code, err := nginx.Get(); err != nil || code != 200 || !nginx.Alive() {
		t.Errorf("nginx answers %d, %v (all alive: %v)", code, err, nginx.Alive())
	}
	if err := worker.Work(); err != nil || !fpm.Alive() {
		t.Errorf("the queue worker: %v; php-fpm alive: %v", err, fpm.Alive())
	}
}
