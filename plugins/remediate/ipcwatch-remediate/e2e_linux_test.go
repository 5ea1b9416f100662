package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// handler runs the built ipcwatch-remediate the way Nagios runs an event
// handler, with a private audit log and lock.
type handler struct {
	t          *testing.T
	audit, dir string
}

func newHandler(t *testing.T) handler {
	dir := t.TempDir()
	return handler{t: t, dir: dir, audit: filepath.Join(dir, "audit", "remediate.jsonl")}
}

func (h handler) run(args ...string) (string, int) {
	h.t.Helper()
	args = append(args, "--audit-log", h.audit, "--lock", filepath.Join(h.dir, "lock"))
	cmd := exec.Command(filepath.Join(binDir, "ipcwatch-remediate"), args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		h.t.Fatal(err)
	}
	h.t.Logf("ipcwatch-remediate %s -> %d\n%s", strings.Join(args, " "), code, out)
	return string(out), code
}

func (h handler) records() []record {
	h.t.Helper()
	f, err := os.Open(h.audit)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if st.Mode().Perm() != 0o640 {
		h.t.Errorf("audit log mode %04o, want 0640", st.Mode().Perm())
	}
	var recs []record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			h.t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestRemediateApache leaks a real Apache's mutexes, then runs the handler
// as Nagios would. While a server runs, the dead servers' arrays cannot
// be told from the running master's own start-up arrays: the handler
// keeps them all (unknown, master_may_own). Once no Apache runs at all
// and Apache cannot start (the outage), www-data processes still keep
// them (owner_process_alive); once those are gone too, a SOFT attempt
// does nothing, a dry run only plans, and a HARD CRITICAL removes exactly
// the arrays no process can use, and Apache starts again.
func TestRemediateApache(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ipctest.SetSemLimits(250, 32000, 32, 3*ipctest.ArraysPerApacheStart+4))
	ap := ipctest.NewApache(t)
	for range 2 {
		must(ap.Start())
		must(ipctest.KillAll())
	}
	ipctest.WaitOlder(t, ipctest.PastSlack)
	must(ap.Start())
	defer ipctest.KillAll()
	ipctest.WaitOlder(t, ipctest.PastSlack)
	other := ipctest.StartHolder(t, 1000, false)
	held := ipctest.StartHolder(t, 33, true)
	touched := ipctest.StartHolder(t, 33, false)
	keyed, err := ipctest.SemGet(0x4000, 1, 0o600)
	must(err)
	keep := []int32{other.ID, held.ID, touched.ID, keyed}
	second := ipctest.NewApache(t)
	if err := second.Start(); err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Fatalf("apache at the limit: %v, want (28)No space left on device", err)
	}

	h := newHandler(t)
	out, code := h.run("--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3", "--min-age", "0s")
	if code != 0 || !strings.Contains(out, "removed 0 of 0 stale arrays, 0 skipped, 0 failed; semaphore arrays 13 -> 13") || !strings.Contains(out, "kept, not proven stale: 6 master_may_own") {
		t.Errorf("HARD CRITICAL with a master running: exit %d, %s", code, out)
	}

	// The outage: the running server is killed too; nothing of Apache is
	// left, and it cannot start. While www-data processes run (the two
	// holders), any of them may use a www-data array: nothing goes.
	must(ipctest.KillAll())
	leaked := slices.DeleteFunc(ipctest.SemIDs(t), func(id int32) bool { return slices.Contains(keep, id) })
	if len(leaked) != 3*ipctest.ArraysPerApacheStart {
		t.Fatalf("%d leaked arrays, want %d", len(leaked), 3*ipctest.ArraysPerApacheStart)
	}
	if err := second.Start(); err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Fatalf("apache in the outage: %v, want (28)No space left on device", err)
	}
	out, code = h.run("--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3", "--min-age", "0s")
	if code != 0 || !strings.Contains(out, "removed 0 of 0 stale arrays") || !strings.Contains(out, "kept, not proven stale: 9 owner_process_alive") {
		t.Errorf("HARD CRITICAL beside www-data processes: exit %d, %s", code, out)
	}
	held.Stop()
	touched.Stop()
	keep = []int32{other.ID, keyed}

	out, code = h.run("--state", "CRITICAL", "--state-type", "SOFT", "--attempt", "1")
	if code != 0 || !strings.Contains(out, "nothing to do (CRITICAL SOFT at attempt 1 (acting from 3))") {
		t.Errorf("SOFT attempt 1: exit %d, %s", code, out)
	}
	out, code = h.run("--dry-run", "--min-age", "0s")
	if code != 0 || !strings.Contains(out, "dry run: 11 of 11 Apache-shaped arrays stale") || strings.Count(out, "would remove") != 11 {
		t.Errorf("dry run: exit %d, %s", code, out)
	}
	// With the default minimum age (5m), the seconds-old leaks are kept,
	// and the handler says from when they can be judged: an engine will
	// not call it again while the check stays CRITICAL.
	out, code = h.run("--dry-run")
	young := regexp.MustCompile(`(?m)^  11 arrays kept only for their age would be stale: changed within min_age 5m0s, (?:the first )?judged from (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC(?:, the last from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)? if unchanged; run the handler again (?:then|at the last time): an engine does not call it again while the check stays CRITICAL, and an Apache started before then keeps them while it runs \(restart it through its unit after then\)$`)
	if m := young.FindStringSubmatch(out); code != 0 || !strings.Contains(out, "dry run: 0 of 11 Apache-shaped arrays stale") || m == nil {
		t.Errorf("dry run with the minimum age: exit %d, %s", code, out)
	} else if from, err := time.Parse(time.DateTime, m[1]); err != nil || from.Before(time.Now().Add(4*time.Minute)) || from.After(time.Now().Add(5*time.Minute)) {
		t.Errorf("the young leaks are judged from %s, want within 5m of now", m[1])
	}
	if got := ipctest.SemIDs(t); len(got) != 13 {
		t.Fatalf("a dry run changed the arrays: %v", got)
	}
	out, code = h.run("--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3", "--min-age", "0s")
	if code != 0 || !strings.Contains(out, "removed 11 of 11 stale arrays, 0 skipped, 0 failed; semaphore arrays 13 -> 2") {
		t.Errorf("HARD CRITICAL: exit %d, %s", code, out)
	}
	got := ipctest.SemIDs(t)
	slices.Sort(keep)
	if !slices.Equal(got, keep) {
		t.Errorf("arrays after remediation %v, want exactly the kept ones %v", got, keep)
	}
	if err := second.Start(); err != nil {
		t.Errorf("apache after remediation: %v", err)
	}

	recs := h.records()
	if len(recs) != 6 {
		t.Fatalf("%d audit lines, want 6 (master running, beside www-data, gated, two dry runs, act)", len(recs))
	}
	if r := recs[0]; r.ArraysBefore != 13 || r.ArraysAfter != 13 || len(r.Actions) != 0 || len(r.Evidence) != 11 {
		t.Errorf("audit of the run beside a master: %+v", r)
	}
	if r := recs[5]; r.DryRun || r.ArraysBefore != 13 || r.ArraysAfter != 2 || len(r.Actions) != 11 || r.Trigger.StateType != "HARD" || len(r.Evidence) != 11 {
		t.Errorf("audit of the acting run: %+v", r)
	}
	if !recs[3].DryRun || len(recs[3].Actions) != 0 || !recs[4].DryRun || len(recs[4].Actions) != 0 || !strings.HasPrefix(recs[2].Trigger.Decision, "nothing to do") {
		t.Errorf("audit of the gated and dry runs: %+v %+v %+v", recs[2], recs[3], recs[4])
	}
}

// TestRemediateOrphans: workers of a SIGKILLed master live on. Without
// --kill-orphans their arrays stay; with it they are ended and the arrays
// removed, and Apache starts.
func TestRemediateOrphans(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	if err := ipctest.SetSemLimits(250, 32000, 32, ipctest.ArraysPerApacheStart); err != nil {
		t.Fatal(err)
	}
	ap := ipctest.NewApache(t)
	if err := ap.Start(); err != nil {
		t.Fatal(err)
	}
	defer ipctest.KillAll()
	if err := ap.KillMaster(); err != nil {
		t.Fatal(err)
	}
	ipctest.WaitOlder(t, ipctest.PastSlack)
	if err := ap.Start(); err == nil {
		t.Fatal("apache started with SEMMNI taken by the dead master's arrays")
	}
	h := newHandler(t)
	out, code := h.run("--min-age", "0s")
	if code != 0 || !strings.Contains(out, "removed 0 of 0 stale arrays") || !strings.Contains(out, "orphaned workers left running (--kill-orphans to end them)") {
		t.Errorf("without --kill-orphans: exit %d, %s", code, out)
	}
	if n := len(ipctest.SemIDs(t)); n != ipctest.ArraysPerApacheStart {
		t.Fatalf("%d arrays left, want %d", n, ipctest.ArraysPerApacheStart)
	}
	out, code = h.run("--min-age", "0s", "--kill-orphans", "--orphan-grace", "2s")
	if code != 0 || !strings.Contains(out, "removed 3 of 3 stale arrays") || !strings.Contains(out, ": killed (") {
		t.Errorf("with --kill-orphans: exit %d, %s", code, out)
	}
	if ids := ipctest.SemIDs(t); len(ids) != 0 {
		t.Errorf("arrays left after killing the orphans: %v", ids)
	}
	if err := ap.Start(); err != nil {
		t.Errorf("apache after remediation: %v", err)
	}
}

// TestRemediateNamespace: --pid acts in a container's IPC namespace and
// nowhere else: a second container's leaked arrays and this namespace's
// stay.
func TestRemediateNamespace(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	own := ipctest.StartHolder(t, 33, false)
	own.Stop() // an Apache-shaped array left in this namespace
	a := ipctest.StartChildNamespace(t, [4]int{250, 32000, 32, 20}, 5, 33)
	b := ipctest.StartChildNamespace(t, [4]int{250, 32000, 32, 20}, 4, 33)
	h := newHandler(t)
	out, code := h.run("--pid", fmt.Sprint(a.PID), "--min-age", "0s")
	if code != 0 || !strings.Contains(out, "removed 5 of 5 stale arrays, 0 skipped, 0 failed; semaphore arrays 5 -> 0") {
		t.Errorf("--pid %d: exit %d, %s", a.PID, code, out)
	}
	fs, err := sysvipc.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	count := func(pid int) int {
		n := -1
		if err := fs.InNamespace(pid, func(in sysvipc.FS) error {
			arrays, err := in.LiveSemArrays()
			n = len(arrays)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(a.PID); n != 0 {
		t.Errorf("%d arrays left in the remediated namespace", n)
	}
	if n := count(b.PID); n != 4 {
		t.Errorf("the other namespace has %d arrays, want its 4", n)
	}
	if ids := ipctest.SemIDs(t); len(ids) != 1 || ids[0] != own.ID {
		t.Errorf("this namespace has %v, want its one array %d", ids, own.ID)
	}
	if r := h.records(); len(r) != 1 || r[0].Policy.PID != a.PID || r[0].ArraysBefore != 5 || r[0].ArraysAfter != 0 {
		t.Errorf("audit: %+v", r)
	}
}

// TestRemediateOrphansFinish: the workers of a SIGKILLed master hold the
// accept mutex by turns; killing them runs their SEM_UNDO, which stamps
// the array with a killed worker's pid and the time of the kill. With a
// minimum age of 1 s that once kept the accept mutex "younger than the
// minimum age", and one array of two stayed behind. Now the same run
// removes all of them, and Apache starts on the same ports.
func TestRemediateOrphansFinish(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	if err := ipctest.SetSemLimits(250, 32000, 32, ipctest.ArraysPerApacheStart); err != nil {
		t.Fatal(err)
	}
	ap := ipctest.NewApache(t)
	if err := ap.Start(); err != nil {
		t.Fatal(err)
	}
	defer ipctest.KillAll()
	if err := ap.KillMaster(); err != nil {
		t.Fatal(err)
	}
	ipctest.WaitOlder(t, time.Second) // every array older than the minimum age (1s)
	out, code := newHandler(t).run("--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3", "--kill-orphans", "--orphan-grace", "2s", "--min-age", "1s")
	if code != 0 || !strings.Contains(out, "removed 3 of 3 stale arrays, 0 skipped, 0 failed; semaphore arrays 3 -> 0") {
		t.Errorf("kill orphans, then finish: exit %d, %s", code, out)
	}
	if err := ap.Start(); err != nil {
		t.Errorf("apache on the same ports after remediation: %v", err)
	}
}
