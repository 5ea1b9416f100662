package check

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ipcwatch/ipcwatch/nagios/nagrange"
	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// serviceName starts the first line of every output.
const serviceName = "SYSVIPC"

// Run is the whole check over /proc (or HOST_PROC): it writes the plugin
// output to stdout and returns the exit code. It never panics and always
// prints one first line.
func Run(args []string, stdout io.Writer) int { return RunWith(sysvipc.NewDefaultFS, args, stdout) }

// RunWith is Run over the proc tree that open returns: the golden tests
// inject their fixtures here and run in process.
func RunWith(open func() (sysvipc.FS, error), args []string, stdout io.Writer) int {
	o, err := parseArgs(args)
	switch {
	case err != nil:
		return unknown(stdout, err)
	case o.help:
		fmt.Fprintf(stdout, usageText, Version, strings.Join(sysvipc.DefaultApacheUsers, ","), sysvipc.DefaultMinAge, defaultPolicyFile, defaultStateDir)
		return int(nagrange.Unknown)
	case o.version:
		fmt.Fprintf(stdout, "check_sysvipc %s (ipcwatch)\n", Version)
		return int(nagrange.Unknown)
	}

	// The check runs on this goroutine; a timer prints the timeout line
	// and exits if it is not done in time. Whichever finishes first
	// writes, once. (A worker goroutine with a select cost a fifth of the
	// count-only run in scheduler hand-offs.)
	var once sync.Once
	timer := time.AfterFunc(o.timeout, func() {
		once.Do(func() {
			fmt.Fprint(stdout, line(o.timeoutState, fmt.Sprintf("plugin timed out after %d seconds", int(o.timeout/time.Second))))
			exit(int(o.timeoutState))
		})
	})
	defer timer.Stop()
	out, code := check(o, open)
	written := false
	once.Do(func() {
		fmt.Fprint(stdout, out)
		written = true
	})
	if !written {
		select {} // the timer is exiting the process
	}
	return int(code)
}

// exit ends the process from the timeout timer; tests replace it.
var exit = os.Exit

// check gathers and reports, turning a panic into UNKNOWN.
func check(o options, open func() (sysvipc.FS, error)) (out string, code nagrange.State) {
	defer func() {
		if p := recover(); p != nil {
			out, code = line(nagrange.Unknown, fmt.Sprintf("internal error: %v", p)), nagrange.Unknown
		}
	}()
	all, err := gather(o, open, time.Now())
	if err != nil {
		return line(nagrange.Unknown, err.Error()), nagrange.Unknown
	}
	return report(o, all, time.Now())
}

func unknown(w io.Writer, err error) int {
	msg := err.Error()
	if errors.Is(err, errUsage) {
		msg = strings.TrimPrefix(msg, errUsage.Error()+": ") + " (see check_sysvipc --help)"
	}
	fmt.Fprint(w, line(nagrange.Unknown, msg))
	return int(nagrange.Unknown)
}

// line is a one-line output with no perfdata.
func line(s nagrange.State, text string) string {
	return fmt.Sprintf("%s %s - %s\n", serviceName, s, clean(text))
}

// clean keeps free text from breaking the output format: '|' starts
// perfdata, and a newline would start the long output.
func clean(s string) string {
	return strings.NewReplacer("|", "/", "\n", " ").Replace(s)
}
