package check

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ipcwatch/ipcwatch/nagios/nagrange"
	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// serviceName starts the first line of every output.
const serviceName = "SYSVIPC"

// Run is the whole check: it writes the plugin output to stdout and
// returns the exit code. It never panics and always prints one first line.
func Run(args []string, stdout io.Writer) int {
	o, err := parseArgs(args)
	switch {
	case err != nil:
		return unknown(stdout, err)
	case o.help:
		fmt.Fprintf(stdout, usageText, Version, strings.Join(sysvipc.DefaultApacheUsers, ","), sysvipc.DefaultMinAge)
		return int(nagrange.Unknown)
	case o.version:
		fmt.Fprintf(stdout, "check_sysvipc %s (ipcwatch)\n", Version)
		return int(nagrange.Unknown)
	}

	type result struct {
		out  string
		code nagrange.State
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{line(nagrange.Unknown, fmt.Sprintf("internal error: %v", p)), nagrange.Unknown}
			}
		}()
		f, err := gather(o, time.Now())
		if err != nil {
			done <- result{line(nagrange.Unknown, err.Error()), nagrange.Unknown}
			return
		}
		out, code := report(o, f, time.Now())
		done <- result{out, code}
	}()
	timer := time.NewTimer(o.timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		fmt.Fprint(stdout, r.out)
		return int(r.code)
	case <-timer.C:
		fmt.Fprint(stdout, line(o.timeoutState, fmt.Sprintf("plugin timed out after %d seconds", int(o.timeout/time.Second))))
		return int(o.timeoutState)
	}
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
