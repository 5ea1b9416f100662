package check

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ipcwatch/ipcwatch/nagios/nagrange"
	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// Version is set at build time with -ldflags "-X ...check.Version=...".
var Version = "0.1.0"

// errUsage marks bad command lines; they end UNKNOWN like every other
// monitoring-plugins check.
var errUsage = errors.New("usage")

// thresholds are one resource's warning and critical ranges, unresolved.
type thresholds struct {
	warn, crit nagrange.Range
}

type options struct {
	arrays, sems, shm, queues, stale thresholds
	apacheUsers                      []string
	apacheUsersGiven                 bool
	minAge                           time.Duration
	timeout                          time.Duration
	timeoutState                     nagrange.State
	verbose                          int
	help, version                    bool
}

// needStale says whether the classifier must run: only for stale
// thresholds or -vv, so the common check stays on the O(1) path.
func (o options) needStale() bool {
	return !o.stale.warn.IsZero() || !o.stale.crit.IsZero() || o.verbose >= 2
}

type rangeFlag struct {
	name string
	text *string
	dst  *nagrange.Range
}

func parseArgs(args []string) (options, error) {
	var o options
	fs := pflag.NewFlagSet("check_sysvipc", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	var ranges []rangeFlag
	rng := func(name, short, def, usage string, dst *nagrange.Range) {
		text := new(string)
		fs.StringVarP(text, name, short, def, usage)
		ranges = append(ranges, rangeFlag{name, text, dst})
	}
	rng("warning", "w", "80%", "semaphore arrays in use, against SEMMNI", &o.arrays.warn)
	rng("critical", "c", "90%", "semaphore arrays in use, against SEMMNI", &o.arrays.crit)
	rng("sems-warning", "", "80%", "semaphores allocated, against SEMMNS", &o.sems.warn)
	rng("sems-critical", "", "90%", "semaphores allocated, against SEMMNS", &o.sems.crit)
	rng("shm-warning", "", "80%", "shared memory segments, against SHMMNI", &o.shm.warn)
	rng("shm-critical", "", "90%", "shared memory segments, against SHMMNI", &o.shm.crit)
	rng("queues-warning", "", "80%", "message queues, against MSGMNI", &o.queues.warn)
	rng("queues-critical", "", "90%", "message queues, against MSGMNI", &o.queues.crit)
	rng("stale-warning", "", "", "stale Apache arrays (no default: reported, not alerted)", &o.stale.warn)
	rng("stale-critical", "", "", "stale Apache arrays", &o.stale.crit)
	users := fs.String("apache-user", strings.Join(sysvipc.DefaultApacheUsers, ","), "users Apache's mutexes belong to")
	fs.DurationVar(&o.minAge, "min-age", sysvipc.DefaultMinAge, "arrays younger than this are never stale")
	timeout := fs.IntP("timeout", "t", 10, "seconds before the check gives up")
	timeoutState := fs.String("timeout-state", "UNKNOWN", "state on timeout: OK, WARNING, CRITICAL or UNKNOWN")
	fs.CountVarP(&o.verbose, "verbose", "v", "more detail; repeat up to three times")
	fs.BoolVarP(&o.help, "help", "h", false, "print this help")
	fs.BoolVarP(&o.version, "version", "V", false, "print the version")

	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if o.help || o.version {
		return o, nil
	}
	for _, r := range ranges {
		if *r.text == "" {
			continue
		}
		parsed, err := nagrange.Parse(*r.text)
		if err != nil {
			return o, fmt.Errorf("%w: --%s: Range format incorrect%s", errUsage, r.name, strings.TrimPrefix(err.Error(), nagrange.ErrRangeFormat.Error()))
		}
		*r.dst = parsed
	}
	if o.stale.warn.StartPercent || o.stale.warn.EndPercent || o.stale.crit.StartPercent || o.stale.crit.EndPercent {
		return o, fmt.Errorf("%w: --stale-warning/--stale-critical: stale arrays have no kernel limit, so %% has no meaning", errUsage)
	}
	o.apacheUsersGiven = fs.Changed("apache-user")
	for _, u := range strings.Split(*users, ",") {
		if u = strings.TrimSpace(u); u != "" {
			o.apacheUsers = append(o.apacheUsers, u)
		}
	}
	if len(o.apacheUsers) == 0 {
		return o, fmt.Errorf("%w: --apache-user: no user given", errUsage)
	}
	if o.minAge < 0 {
		return o, fmt.Errorf("%w: --min-age: %s is negative", errUsage, o.minAge)
	}
	if *timeout <= 0 {
		return o, fmt.Errorf("%w: --timeout: %d is not a positive number of seconds", errUsage, *timeout)
	}
	o.timeout = time.Duration(*timeout) * time.Second
	st, ok := parseState(*timeoutState)
	if !ok {
		return o, fmt.Errorf("%w: --timeout-state: %q is not OK, WARNING, CRITICAL or UNKNOWN", errUsage, *timeoutState)
	}
	o.timeoutState = st
	return o, nil
}

// parseState takes a state by name or exit code, as monitoring-plugins'
// translate_state does.
func parseState(s string) (nagrange.State, bool) {
	for st := nagrange.OK; st <= nagrange.Unknown; st++ {
		if strings.EqualFold(s, st.String()) || s == fmt.Sprint(int(st)) {
			return st, true
		}
	}
	return 0, false
}

const usageText = `check_sysvipc %s - System V IPC usage and leaked Apache semaphore arrays

Usage:
  check_sysvipc [-w RANGE] [-c RANGE]
                [--sems-warning RANGE]   [--sems-critical RANGE]
                [--shm-warning RANGE]    [--shm-critical RANGE]
                [--queues-warning RANGE] [--queues-critical RANGE]
                [--stale-warning RANGE]  [--stale-critical RANGE]
                [--apache-user USER[,USER...]] [--min-age DURATION]
                [-t SECONDS] [--timeout-state STATE] [-v]... [-h] [-V]

Options:
 -w, --warning RANGE          semaphore arrays in use (against SEMMNI); default 80%%
 -c, --critical RANGE         default 90%%
     --sems-warning/critical  semaphores allocated (against SEMMNS); default 80%%/90%%
     --shm-warning/critical   shared memory segments (against SHMMNI); default 80%%/90%%
     --queues-warning/critical message queues (against MSGMNI); default 80%%/90%%
     --stale-warning/critical stale Apache arrays; no default (counted only when set, or at -vv)
     --apache-user USERS      owners of Apache's mutexes; default %s
     --min-age DURATION       arrays changed more recently are never stale; default %s
 -t, --timeout SECONDS        give up after this long; default 10
     --timeout-state STATE    state on timeout; default UNKNOWN
 -v, --verbose                -v: a line per resource; -vv: each stale array;
                              -vvv: the evidence for every Apache-shaped array
 -h, --help                   this help
 -V, --version                the version

RANGE is the monitoring-plugins syntax [@][start:][end]: alert outside start..end (both
inclusive), or inside it with '@'; '~' is minus infinity; "10" means 0..10, "10:" means
at least 10. Any endpoint may end in %% to mean percent of the kernel limit: -w 80%% warns
above 80%% of SEMMNI. Critical is checked before warning; the worst resource sets the state.

Exit: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for -h, -V and bad arguments).
HOST_PROC moves /proc, as for Telegraf in a container.
`
