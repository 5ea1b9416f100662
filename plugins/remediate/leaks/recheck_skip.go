//go:build ipcwatch_skip_recheck

package leaks

// recheckBeforeRemoval is off in this build: the handler removes what the
// plan called stale if it is unchanged, without judging it again. It
// exists so that the chaos soak can show it catches the missing re-check
// (TestSoakCatchesSkippedRecheck); never ship it.
const recheckBeforeRemoval = false
