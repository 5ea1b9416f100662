package check

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

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
	minAge                           time.Duration
	policy                           *sysvipc.Policy // nil unless the classifier runs or its flags were given
	timeout                          time.Duration
	timeoutState                     nagrange.State
	verbose                          int
	help, version                    bool
	pid                              int    // --pid: the IPC namespace of this process
	allNamespaces                    bool   // --all-namespaces
	policyFile                       string // root's policy: its neighbours, users and minimum age ("" with --policy '': none)
	stateDir                         string // the unit hooks' records ("" with --state-dir '': none)
}

// The defaults of --policy and --state-dir, the handler's own; variables
// only so that tests can point them elsewhere.
var (
	defaultPolicyFile = sysvipc.DefaultPolicyFile
	defaultStateDir   = sysvipc.DefaultStateDir
)

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

// parseArgs takes monitoring-plugins style arguments with the standard
// flag package, which accepts -w and --warning alike. (spf13/pflag would
// do -vvv itself, but it links net and a megabyte more into a binary that
// starts every minute on every host; expanding -vv and -vvv is all it
// would add here.)
func parseArgs(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("check_sysvipc", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var ranges []rangeFlag
	rng := func(name, short, def string, dst *nagrange.Range) {
		text := new(string)
		fs.StringVar(text, name, def, "")
		if short != "" {
			fs.StringVar(text, short, def, "")
		}
		ranges = append(ranges, rangeFlag{name, text, dst})
	}
	rng("warning", "w", "80%", &o.arrays.warn)
	rng("critical", "c", "90%", &o.arrays.crit)
	rng("sems-warning", "", "80%", &o.sems.warn)
	rng("sems-critical", "", "90%", &o.sems.crit)
	rng("shm-warning", "", "80%", &o.shm.warn)
	rng("shm-critical", "", "90%", &o.shm.crit)
	rng("queues-warning", "", "80%", &o.queues.warn)
	rng("queues-critical", "", "90%", &o.queues.crit)
	rng("stale-warning", "", "", &o.stale.warn)
	rng("stale-critical", "", "", &o.stale.crit)
	users := fs.String("apache-user", strings.Join(sysvipc.DefaultApacheUsers, ","), "")
	o.minAge = sysvipc.DefaultMinAge
	fs.Var((*duration)(&o.minAge), "min-age", "")
	timeout := 10
	fs.IntVar(&timeout, "timeout", 10, "")
	fs.IntVar(&timeout, "t", 10, "")
	timeoutState := fs.String("timeout-state", "UNKNOWN", "")
	fs.IntVar(&o.pid, "pid", 0, "")
	fs.BoolVar(&o.allNamespaces, "all-namespaces", false, "")
	fs.StringVar(&o.policyFile, "policy", defaultPolicyFile, "")
	fs.StringVar(&o.stateDir, "state-dir", defaultStateDir, "")
	fs.Var((*counter)(&o.verbose), "verbose", "")
	fs.Var((*counter)(&o.verbose), "v", "")
	for _, name := range []string{"help", "h"} {
		fs.BoolVar(&o.help, name, false, "")
	}
	for _, name := range []string{"version", "V"} {
		fs.BoolVar(&o.version, name, false, "")
	}

	if err := fs.Parse(expandVerbose(args)); err != nil {
		msg := strings.Replace(err.Error(), "flag provided but not defined: ", "unknown option ", 1)
		return o, fmt.Errorf("%w: %s", errUsage, msg)
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
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// The policy is built (and its users looked up in /etc/passwd) only
	// when it is used or was asked for: the common check stays O(1).
	if o.needStale() || set["apache-user"] || set["min-age"] {
		pol, err := o.judgingPolicy(strings.Split(*users, ","), set)
		if err != nil {
			return o, err
		}
		o.policy = &pol
	}
	if o.pid < 0 {
		return o, fmt.Errorf("%w: --pid: %d is not a process id", errUsage, o.pid)
	}
	if o.pid != 0 && o.allNamespaces {
		return o, fmt.Errorf("%w: --pid and --all-namespaces exclude each other", errUsage)
	}
	if timeout <= 0 {
		return o, fmt.Errorf("%w: --timeout: %d is not a positive number of seconds", errUsage, timeout)
	}
	o.timeout = time.Duration(timeout) * time.Second
	st, ok := parseState(*timeoutState)
	if !ok {
		return o, fmt.Errorf("%w: --timeout-state: %q is not OK, WARNING, CRITICAL or UNKNOWN", errUsage, *timeoutState)
	}
	o.timeoutState = st
	return o, nil
}

// counter is a repeatable boolean flag: -v -v counts 2.
type counter int

func (c *counter) String() string   { return fmt.Sprint(int(*c)) }
func (c *counter) Set(string) error { *c++; return nil }
func (c *counter) IsBoolFlag() bool { return true }

// duration is a flag.Value that keeps time.ParseDuration's error, where
// flag.DurationVar says only "parse error".
type duration time.Duration

func (d *duration) String() string { return time.Duration(*d).String() }
func (d *duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	*d = duration(v)
	return err
}

// expandVerbose turns -vv and -vvv into repeated -v, the one bundling of
// short options monitoring-plugins users write. Arguments after "--" and
// option values are left alone.
func expandVerbose(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && strings.Trim(a[1:], "v") == "" {
			for range len(a) - 1 {
				out = append(out, "-v")
			}
			continue
		}
		out = append(out, a)
	}
	return out
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
                [--pid PID | --all-namespaces] [--policy FILE] [--state-dir DIR]
                [-t SECONDS] [--timeout-state STATE] [-v]... [-h] [-V]

Options:
 -w, --warning RANGE          semaphore arrays in use (against SEMMNI); default 80%%
 -c, --critical RANGE         default 90%%
     --sems-warning/critical  semaphores allocated (against SEMMNS); default 80%%/90%%
     --shm-warning/critical   shared memory segments (against SHMMNI); default 80%%/90%%
     --queues-warning/critical message queues (against MSGMNI); default 80%%/90%%
     --stale-warning/critical stale Apache arrays; no default (counted only when set, or at -vv)
     --apache-user USERS      owners of Apache's mutexes; default: the policy file's
                              apache_users, else %s
     --min-age DURATION       arrays changed more recently are never stale; default:
                              the policy file's min_age, else %s
     --pid PID                check the IPC namespace of that process (a container's)
     --all-namespaces         check every IPC namespace: the worst one sets the state,
                              perfdata stays this namespace's own
     --policy FILE            root's policy file (the handler's): its neighbours, and
                              its apache_users and min_age where no flag sets them; default
                              %s ('' for none; a missing file is none)
     --state-dir DIR          the unit hooks' start records; default %s
                              ('' for none)
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

// judgingPolicy is the handler's policy as root's file sets it: its
// apache_users and min_age where no flag chose them, and its declared
// neighbours, so that what the check calls stale is what the handler
// removes.
func (o *options) judgingPolicy(users []string, set map[string]bool) (sysvipc.Policy, error) {
	var pf *sysvipc.PolicyFile
	if o.policyFile != "" {
		var err error
		if pf, err = sysvipc.LoadPolicyFile(o.policyFile); err != nil {
			return sysvipc.Policy{}, err
		}
	}
	fromFile := map[sysvipc.PolicyField]bool{}
	if !set["min-age"] {
		d, err := pf.MinAgeOr(o.minAge)
		if err != nil {
			return sysvipc.Policy{}, err
		}
		fromFile[sysvipc.FieldMinAge] = pf != nil && pf.MinAge != ""
		o.minAge = d
	}
	if !set["apache-user"] && pf != nil && len(pf.ApacheUsers) > 0 {
		users, fromFile[sysvipc.FieldUsers] = pf.ApacheUsers, true
	}
	pol, err := sysvipc.NewPolicy(users, o.minAge)
	if err != nil {
		if field := policyField(err); fromFile[field] {
			return pol, fmt.Errorf("%w %s: %s: %w", sysvipc.ErrPolicyFile, pf.Path, policyKeys[field], err)
		}
		return pol, fmt.Errorf("%w: %s: %w", errUsage, policyFlags[policyField(err)], err)
	}
	pol.Neighbours = pf.NeighbourSet()
	return pol, nil
}

// policyKeys names the policy file's key of each policy field in errors.
var policyKeys = map[sysvipc.PolicyField]string{sysvipc.FieldUsers: "apache_users", sysvipc.FieldMinAge: "min_age"}

// policyFlags names the flag of each policy field in errors.
var policyFlags = map[sysvipc.PolicyField]string{sysvipc.FieldUsers: "--apache-user", sysvipc.FieldMinAge: "--min-age"}

func policyField(err error) sysvipc.PolicyField {
	var pe *sysvipc.PolicyError
	if errors.As(err, &pe) {
		return pe.Field
	}
	return sysvipc.FieldUsers
}
