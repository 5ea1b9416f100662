// Command check_sysvipc is a Nagios/Icinga check of System V IPC usage and
// of leaked Apache semaphore arrays; see package check.
package main

import (
	"os"
	"runtime/debug"

	"github.com/ipcwatch/ipcwatch/nagios/check"
)

func main() {
	// A check lives for milliseconds: collecting garbage only costs time.
	// The memory limit turns the collector back on if a host with far more
	// arrays than SEMMNI's default ever needs it.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(256 << 20)
	os.Exit(check.Run(os.Args[1:], os.Stdout))
}
