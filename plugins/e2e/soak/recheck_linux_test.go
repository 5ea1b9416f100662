package soak

import (
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// skipRecheckTag builds a handler whose plugin removes what its plan
// called stale without judging it again right before IPC_RMID
// (plugins/remediate/leaks/recheck_skip.go).
const skipRecheckTag = "ipcwatch_skip_recheck"

// TestSoakCatchesSkippedRecheck breaks the handler on purpose: built
// without its final re-check, it removes a live array when a plan's
// census missed a server that was starting (its start-up process's
// first arrays listed, the process gone and its daemon master forked
// after the census listed the pids). The soak must catch that within its
// short run, by a live array removed or a mutex failure.
func TestSoakCatchesSkippedRecheck(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	in := prepareHost(t, skipRecheckTag)
	s := runSoak(t, in, fixedSeed, shortDuration, true)
	if s.firstLive == 0 {
		t.Fatalf("the soak (seed %d, %s) did not catch a handler without its final re-check; violations: %q", fixedSeed, shortDuration, s.violations)
	}
	t.Logf("a handler without its final re-check was caught after %.1f s (seed %d): %s", s.firstLive.Seconds(), fixedSeed, s.violations[0])
}
