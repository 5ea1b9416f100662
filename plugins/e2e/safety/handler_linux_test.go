package safety

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// act is how Nagios calls the handler on a HARD CRITICAL.
var act = []string{"--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3"}

// handler runs the built ipcwatch-remediate as root with a private audit
// log and lock, and returns its output and exit code.
func handler(t *testing.T, args ...string) (string, int) {
	t.Helper()
	dir := t.TempDir()
	args = append(slices.Clone(args), "--audit-log", filepath.Join(dir, "audit.jsonl"), "--lock", filepath.Join(dir, "lock"))
	return runLogged(t, exec.Command(filepath.Join(binDir, "ipcwatch-remediate"), args...))
}

func runLogged(t *testing.T, cmd *exec.Cmd) (string, int) { return ipctest.RunLogged(t, cmd) }

// viaSudo runs the built handler as nagios through the real sudo.
func viaSudo(t *testing.T) func(args ...string) (string, int) {
	return ipctest.ViaSudo(t, filepath.Join(binDir, "ipcwatch-remediate"))
}

// wantArrays fails unless every id still exists.
func wantArrays(t *testing.T, ids []int32, what string) {
	t.Helper()
	now := ipctest.SemIDs(t)
	for _, id := range ids {
		if !slices.Contains(now, id) {
			t.Errorf("semid %d (%s) was removed", id, what)
		}
	}
}
