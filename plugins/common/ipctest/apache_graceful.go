package ipctest

import (
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Graceful runs `apache2 -k graceful` and waits until the master logs that
// it resumed normal operations once more than before and has its workers
// again: the new generation's mutexes exist by then.
func (a *Apache) Graceful() error {
	const resumed = "resuming normal operations"
	before := strings.Count(a.Log(), resumed)
	if out, err := exec.Command(a.binary, "-f", a.confFile(), "-k", "graceful").CombinedOutput(); err != nil {
		return fmt.Errorf("apache2 -k graceful: %w: %s", err, out)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pid, err := a.MasterPID()
		if err == nil && strings.Count(a.Log(), resumed) > before && countChildren(pid) >= startServers {
			return nil
		}
	}
	return fmt.Errorf("apache2 did not resume after a graceful restart in 10s: %s", a.Log())
}

// Alive reports whether pid runs (a zombie counts as gone).
func Alive(pid int) bool { return processAlive(pid) }
