// Command check_sysvipc is a Nagios/Icinga check of System V IPC usage and
// of leaked Apache semaphore arrays; see package check.
package main

import (
	"os"

	"github.com/ipcwatch/ipcwatch/nagios/check"
)

func main() {
	os.Exit(check.Run(os.Args[1:], os.Stdout))
}
