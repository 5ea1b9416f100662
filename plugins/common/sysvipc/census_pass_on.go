//go:build !ipcwatch_skip_recheck

package sysvipc

// censusSecondPass: the census lists the processes a second time and
// reads the new ones, and those whose start changed. A build with the
// ipcwatch_skip_recheck tag leaves it out, with the handler's final
// re-check, only to show that the chaos soak (plugins/e2e/soak) catches
// a handler without those defences; no shipped build has the tag.
const censusSecondPass = true
