package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// errUsage marks a bad command line (exit 2).
var errUsage = errors.New("usage")

// errHelp is --help: the usage on stdout, exit 3 as a monitoring-plugins
// check does for -h.
var errHelp = errors.New("help requested")

// Bounds checked before any number is converted or sent to the plugin
// (the protocol carries int32 counts and pids, and whole seconds).
const (
	maxOrphanGrace = 10 * time.Minute
	maxCount       = math.MaxInt32
	// maxPID is the kernel's PID_MAX_LIMIT (4194304): no pid is higher.
	maxPID = 1 << 22
)

// sudoOnly are the flags only root may pass: through sudo (the nagios
// user, by the sudoers snippet) they would let the caller pick what runs
// as root, where root writes (--audit-log /etc/passwd), whose arrays are
// judged and removed (--apache-user 4242), or which processes are killed
// (--kill-orphans: a non-root `apache2 -X` whose launcher exited looks
// exactly like an orphaned worker).
// The unit hooks and their state are root's alone: systemd runs them as
// root, and a record is what lets the plugin remove an array while other
// servers run.
var sudoOnly = []string{"plugin", "manifest", "audit-log", "lock", "apache-user", "kill-orphans", "policy",
	"before-start", "after-start", "unit", "main-pid", "state-dir"}

type options struct {
	state, stateType string
	attempt          int
	actOnAttempt     int
	plugins          []string
	manifest         string
	dryRun           bool
	minAge           time.Duration
	maxRemovals      int
	killOrphans      bool
	orphanGrace      time.Duration
	apacheUsers      []string
	auditLog         string
	lockFile         string
	policyFile       string
	policyRead       string // the policy file read, for the audit ("" when none)
	manual           bool   // no state flags: run by hand
	pid              int    // act in this process's IPC namespace
	hook             remediate.Hook
	unit             string   // the hook's unit (%n)
	mainPID          int      // after-start: $MAINPID; 0 when systemd had none
	stateDir         string   // where the hooks keep their records
	neighbours       []string // declared in root's policy file
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// flagValues are the flags parsed into something other than options.
type flagValues struct {
	plugins                 listFlag
	users                   string
	beforeStart, afterStart bool
	mainPID                 string
}

// parseArgs reads the command line: the flags, what sudo's caller may not
// choose, root's policy file under what the flags did not set, the hooks'
// flags, the checks of every value, and the paths found beside this
// program.
func parseArgs(args []string) (options, error) {
	o := options{}
	fs, r := defineFlags(&o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, fmt.Errorf("%w\n%s", errHelp, usage(fs))
		}
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	o.plugins = r.plugins
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := sudoRestrictions(o, set); err != nil {
		return o, err
	}
	if err := mergePolicyFile(&o, r, set); err != nil {
		return o, err
	}
	if err := hookArgs(&o, set, r.beforeStart, r.afterStart, r.mainPID); err != nil {
		return o, err
	}
	if err := validate(&o, r.users, set); err != nil {
		return o, err
	}
	return o, besideThisProgram(&o)
}

// defineFlags defines every flag, into o or the returned values.
func defineFlags(o *options) (*flag.FlagSet, *flagValues) {
	r := &flagValues{}
	fs := flag.NewFlagSet("ipcwatch-remediate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.state, "state", "", "service state ($SERVICESTATE$): OK, WARNING, CRITICAL, UNKNOWN")
	fs.StringVar(&o.stateType, "state-type", "", "SOFT or HARD ($SERVICESTATETYPE$)")
	fs.IntVar(&o.attempt, "attempt", 0, "check attempt ($SERVICEATTEMPT$)")
	fs.IntVar(&o.actOnAttempt, "act-on-attempt", 3, "act on a SOFT CRITICAL from this attempt on")
	fs.Var(&r.plugins, "plugin", "remediation plugin to run (repeatable); default: ipcwatch-plugin-apache beside this program, else in the install's lib/ipcwatch")
	fs.StringVar(&o.manifest, "manifest", "", "sha256 manifest of trusted plugins; default: SHA256SUMS beside this program")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the plan and change nothing")
	fs.DurationVar(&o.minAge, "min-age", sysvipc.DefaultMinAge, "arrays changed more recently are never stale")
	fs.IntVar(&o.maxRemovals, "max-removals", 0, "remove at most this many arrays in one run (0: no limit)")
	fs.BoolVar(&o.killOrphans, "kill-orphans", false, "SIGTERM, then SIGKILL, Apache workers whose master died")
	fs.DurationVar(&o.orphanGrace, "orphan-grace", 5*time.Second, "time between SIGTERM and SIGKILL for orphans")
	fs.StringVar(&r.users, "apache-user", strings.Join(sysvipc.DefaultApacheUsers, ","), "users Apache's mutexes belong to")
	fs.StringVar(&o.auditLog, "audit-log", "/var/log/ipcwatch/remediate.jsonl", "JSON lines audit log, appended")
	fs.IntVar(&o.pid, "pid", 0, "act in the IPC namespace of this process (Apache in a container)")
	fs.StringVar(&o.lockFile, "lock", "/run/ipcwatch-remediate.lock", "lock file: one handler at a time")
	fs.StringVar(&o.policyFile, "policy", defaultPolicyFile, "root's policy file (apache_users, min_age, max_removals, kill_orphans, neighbours); flags given override it")
	fs.BoolVar(&r.beforeStart, "before-start", false, "systemd ExecStartPre: remove what dead starts left, then note what exists before --unit starts (root only; exits 0)")
	fs.BoolVar(&r.afterStart, "after-start", false, "systemd ExecStartPost: record the arrays this start of --unit made, with --main-pid (root only; exits 0)")
	fs.StringVar(&o.unit, "unit", "", "the unit a hook runs for (systemd's %n)")
	fs.StringVar(&r.mainPID, "main-pid", "", "after-start: the unit's main pid (systemd's $MAINPID)")
	fs.StringVar(&o.stateDir, "state-dir", sysvipc.DefaultStateDir, "directory where the hooks keep what they witnessed (root writes, all read)")
	return fs, r
}

// sudoRestrictions refuses, through sudo, the flags only root may pass
// (sudoOnly), and a minimum age below the default.
func sudoRestrictions(o options, set map[string]bool) error {
	if uid := os.Getenv("SUDO_UID"); uid != "" && uid != "0" {
		for _, name := range sudoOnly {
			if set[name] {
				return fmt.Errorf("%w: --%s: not allowed through sudo (SUDO_UID %s); only root may choose what the handler runs, writes or judges", errUsage, name, uid)
			}
		}
		// Nor may the caller loosen the safety margin below the default;
		// root's policy file may.
		if set["min-age"] && o.minAge < sysvipc.DefaultMinAge {
			return fmt.Errorf("%w: --min-age: %s is below %s, not allowed through sudo (SUDO_UID %s)", errUsage, o.minAge, sysvipc.DefaultMinAge, uid)
		}
	}
	return nil
}

// mergePolicyFile fills from root's policy file what the command line
// did not set.
func mergePolicyFile(o *options, r *flagValues, set map[string]bool) error {
	// Root's policy file fills what the command line did not set.
	pf, err := loadPolicyFile(o.policyFile)
	if err != nil {
		return err
	}
	if pf != nil {
		if err := applyPolicyFile(pf, o, &r.users, set); err != nil {
			return err
		}
		o.policyRead = o.policyFile
	}
	return nil
}

// validate checks every value: the Nagios state flags, the users and the
// minimum age (by the core's one policy constructor), and the bounds of
// every number.
func validate(o *options, users string, set map[string]bool) error {
	o.manual = !set["state"] && !set["state-type"] && !set["attempt"]
	if !o.manual {
		o.state = strings.ToUpper(o.state)
		o.stateType = strings.ToUpper(o.stateType)
		if !set["state"] || !set["state-type"] || !set["attempt"] {
			return fmt.Errorf("%w: --state, --state-type and --attempt go together (Nagios: $SERVICESTATE$ $SERVICESTATETYPE$ $SERVICEATTEMPT$)", errUsage)
		}
		if o.stateType != "SOFT" && o.stateType != "HARD" {
			return fmt.Errorf("%w: --state-type: %q is not SOFT or HARD", errUsage, o.stateType)
		}
		if o.attempt < 1 {
			return fmt.Errorf("%w: --attempt: %d is not a positive attempt number", errUsage, o.attempt)
		}
	}
	if o.actOnAttempt < 1 {
		return fmt.Errorf("%w: --act-on-attempt: %d is not a positive attempt number", errUsage, o.actOnAttempt)
	}
	// The users and the minimum age are checked by the core's one policy
	// constructor, as in check_sysvipc, the Telegraf input and the plugin.
	for _, u := range strings.Split(users, ",") {
		if u = strings.TrimSpace(u); u != "" {
			o.apacheUsers = append(o.apacheUsers, u)
		}
	}
	if _, err := sysvipc.NewPolicy(o.apacheUsers, o.minAge); err != nil {
		flag, key := "--apache-user", "apache_users"
		var pe *sysvipc.PolicyError
		if errors.As(err, &pe) && pe.Field == sysvipc.FieldMinAge {
			flag, key = "--min-age", "min_age"
		}
		// Name where the bad value came from: the flag, or root's file.
		if o.policyRead != "" && !set[strings.TrimPrefix(flag, "--")] {
			return fmt.Errorf("%w %s: %s: %w", errPolicyFile, o.policyRead, key, err)
		}
		return fmt.Errorf("%w: %s: %w", errUsage, flag, err)
	}
	if o.pid < 0 || o.pid > maxPID {
		return fmt.Errorf("%w: --pid: %d is not a process id (1 to %d)", errUsage, o.pid, maxPID)
	}
	if o.maxRemovals < 0 {
		return fmt.Errorf("%w: --max-removals: %d is negative", errUsage, o.maxRemovals)
	}
	if o.maxRemovals > maxCount {
		return fmt.Errorf("%w: --max-removals: %d is above the maximum %d", errUsage, o.maxRemovals, maxCount)
	}
	if o.attempt > maxCount || o.actOnAttempt > maxCount {
		return fmt.Errorf("%w: --attempt and --act-on-attempt: at most %d", errUsage, maxCount)
	}
	if o.orphanGrace < 0 {
		return fmt.Errorf("%w: --orphan-grace: %s is negative", errUsage, o.orphanGrace)
	}
	if o.orphanGrace > maxOrphanGrace {
		return fmt.Errorf("%w: --orphan-grace: %s is above the maximum %s", errUsage, o.orphanGrace, maxOrphanGrace)
	}
	return nil
}

// defaultPluginDir is where make install and the packages put the plugin
// and its manifest ($(PREFIX)/lib/ipcwatch, set with -X): the handler
// itself is in sbin. "" (a plain go build): beside this program only.
var defaultPluginDir = ""

// besideThisProgram finds the plugin and its manifest, unless given:
// beside this program (bin/ of a build), else in defaultPluginDir.
func besideThisProgram(o *options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir := filepath.Dir(self)
	if _, err := os.Stat(filepath.Join(dir, pluginName)); err != nil && defaultPluginDir != "" {
		dir = defaultPluginDir
	}
	if len(o.plugins) == 0 {
		o.plugins = []string{filepath.Join(dir, pluginName)}
	}
	if o.manifest == "" {
		o.manifest = filepath.Join(dir, "SHA256SUMS")
	}
	return nil
}

// pluginName is the Apache remediation plugin's program.
const pluginName = "ipcwatch-plugin-apache"

// hookArgs checks the unit hooks' flags: one hook, run by root itself
// (systemd), for a unit named as %n names it.
func hookArgs(o *options, set map[string]bool, before, after bool, mainPID string) error {
	switch {
	case before && after:
		return fmt.Errorf("%w: --before-start and --after-start: one hook per run", errUsage)
	case !before && !after:
		for _, name := range []string{"unit", "main-pid"} {
			if set[name] {
				return fmt.Errorf("%w: --%s: only with --before-start or --after-start", errUsage, name)
			}
		}
		return nil
	case before:
		o.hook = remediate.BeforeStart
	default:
		o.hook = remediate.AfterStart
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: --%s: root only (systemd runs it from the unit as root)", errUsage, o.hook)
	}
	for _, name := range []string{"state", "state-type", "attempt"} {
		if set[name] {
			return fmt.Errorf("%w: --%s: a unit hook is no event handler call", errUsage, name)
		}
	}
	if err := validUnit(o.unit); err != nil {
		return err
	}
	if set["main-pid"] && before {
		return fmt.Errorf("%w: --main-pid: only with --after-start", errUsage)
	}
	// systemd passes $MAINPID empty (or 0) when it knows no main process:
	// then nothing can be recorded, which is said, not refused.
	if mainPID != "" {
		n, err := strconv.Atoi(mainPID)
		if err != nil || n < 0 || n > maxPID {
			return fmt.Errorf("%w: --main-pid: %q is not a process id (1 to %d)", errUsage, mainPID, maxPID)
		}
		o.mainPID = n
	}
	return nil
}

// gate decides whether this event calls for action. Nagios calls event
// handlers on every state change and on each SOFT retry; removing arrays
// on the first SOFT CRITICAL would act on a blip.
func gate(o options) (act bool, why string) {
	switch {
	case o.manual:
		return true, "manual run"
	case o.state != "CRITICAL":
		return false, fmt.Sprintf("state %s", o.state)
	case o.stateType == "HARD":
		return true, "CRITICAL HARD"
	case o.attempt >= o.actOnAttempt:
		return true, fmt.Sprintf("CRITICAL SOFT at attempt %d (acting from %d)", o.attempt, o.actOnAttempt)
	}
	return false, fmt.Sprintf("CRITICAL SOFT at attempt %d (acting from %d)", o.attempt, o.actOnAttempt)
}

// usage is --help's text: the synopsis and every flag with its default.
func usage(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString("usage: ipcwatch-remediate [--state STATE --state-type SOFT|HARD --attempt N] [flags]\n")
	b.WriteString("       ipcwatch-remediate --before-start --unit UNIT [flags]\n")
	b.WriteString("       ipcwatch-remediate --after-start --unit UNIT --main-pid PID [flags]\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}
