package hooks

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// host is the handler as one machine has it: its records, audit log and
// lock. With stateDir "" the handler's defaults apply (under ViaSudo's
// private /run and /var/log).
type host struct {
	stateDir, auditLog, lock string
}

func newHost(t *testing.T) *host {
	dir := t.TempDir()
	return &host{stateDir: filepath.Join(dir, "units"), auditLog: filepath.Join(dir, "audit.jsonl"), lock: filepath.Join(dir, "lock")}
}

// run calls the built handler as root.
func (h *host) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	if h.stateDir != "" {
		args = append(slices.Clone(args), "--state-dir", h.stateDir, "--audit-log", h.auditLog, "--lock", h.lock)
	}
	return ipctest.RunLogged(t, exec.Command(filepath.Join(binDir, "ipcwatch-remediate"), args...))
}

// hook runs one hook as systemd would and returns its one line; a hook
// exits 0 whatever happens.
func (h *host) hook(t *testing.T, args ...string) string {
	t.Helper()
	out, code := h.run(t, args...)
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("hook %v: exit %d, %d lines, want exit 0 and one line:\n%s", args, code, strings.Count(out, "\n"), out)
	}
	return out
}

// startNeighbour starts another Apache, no unit's, and returns it with
// the arrays there are then (its own, when it is the first).
func startNeighbour(t *testing.T) (*ipctest.Apache, []int32) {
	t.Helper()
	neighbour := ipctest.NewApache(t)
	if err := neighbour.Start(); err != nil {
		t.Fatal(err)
	}
	return neighbour, ipctest.SemIDs(t)
}

// unit is an Apache started as a systemd unit starts it.
type unit struct {
	name   string
	ap     *ipctest.Apache
	arrays []int32 // what appeared during its last start
}

// start is ExecStartPre, `apache2 -k start` (ExecStart, Type=forking),
// then ExecStartPost with the pid file's pid ($MAINPID).
func (h *host) start(t *testing.T, u *unit, preArgs ...string) (before, after string, err error) {
	t.Helper()
	before = h.hook(t, append([]string{"--before-start", "--unit", u.name}, preArgs...)...)
	after, err = h.startAfter(t, u)
	return before, after, err
}

// startAfter is the second half of start, `apache2 -k start` and the
// ExecStartPost, for tests that act between the hooks.
func (h *host) startAfter(t *testing.T, u *unit) (string, error) {
	t.Helper()
	ids := ipctest.SemIDs(t)
	if err := u.ap.Start(); err != nil {
		return "", err
	}
	u.arrays = newSince(t, ids)
	pid, err := u.ap.MasterPID()
	if err != nil {
		return "", err
	}
	return h.hook(t, "--after-start", "--unit", u.name, "--main-pid", strconv.Itoa(pid)), nil
}

// newSince lists the arrays that are not in ids.
func newSince(t *testing.T, ids []int32) []int32 {
	return slices.DeleteFunc(ipctest.SemIDs(t), func(id int32) bool { return slices.Contains(ids, id) })
}

// recorded is every semid the unit's record holds, over all its starts.
func (h *host) recorded(t *testing.T, unit string) []int32 {
	t.Helper()
	dir := h.stateDir
	if dir == "" {
		dir = "/run/ipcwatch/units"
	}
	b, err := os.ReadFile(filepath.Join(dir, unit+".json"))
	if err != nil {
		t.Fatalf("the record of %s: %v", unit, err)
	}
	var rec sysvipc.UnitRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("the record of %s: %v", unit, err)
	}
	var ids []int32
	for _, s := range rec.Starts {
		for _, a := range s.Arrays {
			ids = append(ids, a.SemID)
		}
	}
	slices.Sort(ids)
	return ids
}

// healthy fails unless every array of the server is still there, it
// answers, and its error log has no mutex failure.
func healthy(t *testing.T, ap *ipctest.Apache, arrays []int32, when string) {
	t.Helper()
	ipctest.Gone(t, arrays, false, when)
	if code, err := ap.Get("/index.html"); err != nil || code != 200 {
		t.Errorf("%s: HTTP %d, %v", when, code, err)
	}
	if ap.TLSPort() != "" {
		if code, err := ap.GetTLS("/index.html"); err != nil || code != 200 {
			t.Errorf("%s: HTTPS %d, %v", when, code, err)
		}
	}
	if errs := ap.MutexErrors(); len(errs) > 0 {
		t.Errorf("%s: mutex errors in the error log:\n%s", when, strings.Join(errs, "\n"))
	}
}

func wantLine(t *testing.T, line string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(line, p) {
			t.Errorf("hook line %q lacks %q", strings.TrimSpace(line), p)
		}
	}
}
