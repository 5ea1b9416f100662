// Command ipcwatch-remediate is a Nagios/Icinga event handler: when the
// check_sysvipc service goes CRITICAL (HARD, or SOFT at a late enough
// attempt) it starts the remediation plugins, which remove semaphore
// arrays leaked by a dead Apache and never a live one. Run by hand with no
// state flags it acts at once; --dry-run only prints the plan. As a
// systemd unit's ExecStartPre (--before-start) and ExecStartPost
// (--after-start) it witnesses the unit's own arrays and removes those a
// dead start left before the next one.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	switch {
	case err == nil:
	case errors.Is(err, errHelp):
		_, text, _ := strings.Cut(err.Error(), "\n")
		fmt.Fprint(os.Stdout, text)
		os.Exit(3)
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stdout, "ipcwatch-remediate: %v\n", err)
		if unitHookCall(os.Args[1:]) {
			os.Exit(0)
		}
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stdout, "ipcwatch-remediate: FAILED: %v\n", err)
		// A unit hook never stops Apache from starting, whatever went
		// wrong (root's policy file refused, say): its line says it.
		if unitHookCall(os.Args[1:]) {
			os.Exit(0)
		}
		os.Exit(1)
	}
}
