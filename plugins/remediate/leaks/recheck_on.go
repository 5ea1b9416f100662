//go:build !ipcwatch_skip_recheck

package leaks

// recheckBeforeRemoval: right before each IPC_RMID the array is judged
// again by the core's rules against a census taken then, and its last
// pid read once more. A build with the ipcwatch_skip_recheck tag leaves
// that out, only to show that the chaos soak (plugins/e2e/soak) catches
// a handler without it; no shipped build has the tag.
const recheckBeforeRemoval = true
