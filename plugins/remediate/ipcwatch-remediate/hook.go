package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// hookLockWait is how long a unit hook waits for a running event handler
// to finish: long enough for its orphan grace, short enough that the
// start is not held up for long; after it the hook gives up, says so and
// the start goes on.
const hookLockWait = 10 * time.Second

// runHook is a systemd unit's ExecStartPre or ExecStartPost: one plugin
// call with the unit's and every other unit's records, the unit's new
// record stored, one audit line and one line on stdout. It never fails
// the unit's start: every error is printed, audited and swallowed.
func runHook(o options, out io.Writer) {
	rec := newRecord(o, trigger{Decision: fmt.Sprintf("%s hook of %s", o.hook, o.unit)})
	rec.Hook = &hookRecord{Hook: string(o.hook), Unit: o.unit, MainPID: o.mainPID}
	note, err := hook(o, &rec)
	rec.Hook.Note = note
	if err != nil {
		rec.Error = err.Error()
		note = "not done: " + err.Error() + " (the start goes on)"
	}
	if aerr := appendAudit(o.auditLog, rec); aerr != nil {
		note += "; " + aerr.Error()
	}
	fmt.Fprintf(out, "ipcwatch-remediate: %s %s: %s\n", o.hook, o.unit, note)
}

func hook(o options, rec *record) (string, error) {
	release, err := lockWithin(o.lockFile, hookLockWait)
	if err != nil {
		return "", err
	}
	defer release()
	records, problems, err := readRecords(o.stateDir, true)
	if err != nil {
		return "", err
	}
	rec.StateProblems = problems
	var notes []string
	for _, path := range o.plugins {
		rec.Plugin = path
		rep, err := callPlugin(o, path, records)
		if err != nil {
			return strings.Join(notes, "; "), err
		}
		rec.fill(rep)
		// The record first: the forensics only read logs, and a slow
		// journal must not hold up, or lose, what later removals need.
		if rep.Record != nil && !o.dryRun {
			if err := writeRecord(o.stateDir, o.unit, rep.Record); err != nil {
				return rep.Note, err
			}
		}
		gens := leakForensics(rep, records)
		rec.Generations = generationRecords(gens)
		if line := sysvipc.GenerationsLine(gens); line != "" {
			rep.Note += "; " + line
		}
		if m := rep.Maturing(); m.Arrays > 0 {
			rep.Note += "; " + m.Line(o.minAge)
			if o.hook == remediate.BeforeStart {
				rep.Note += fmt.Sprintf("; the server starting now keeps %s while it runs: restart it through its unit after then", m.Them())
			}
		}
		if rep.Record != nil && !o.dryRun {
			records[o.unit] = rep.Record
		}
		notes = append(notes, rep.Note)
	}
	if len(problems) > 0 {
		notes = append(notes, fmt.Sprintf("%d unusable records ignored (audit log)", len(problems)))
	}
	return strings.Join(notes, "; "), nil
}

// lockWithin takes the handler's lock, retrying until wait has passed.
func lockWithin(path string, wait time.Duration) (func(), error) {
	deadline := time.Now().Add(wait)
	for {
		release, err := lock(path)
		if !errors.Is(err, errLocked) || time.Now().After(deadline) {
			return release, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unitHookCall reports whether root called a unit hook: then even a bad
// command line exits 0, as the hooks never fail a unit's start. Through
// sudo, or as another user, a refusal exits 2.
func unitHookCall(args []string) bool {
	if os.Geteuid() != 0 || (os.Getenv("SUDO_UID") != "" && os.Getenv("SUDO_UID") != "0") {
		return false
	}
	for _, a := range args {
		switch strings.SplitN(strings.TrimLeft(a, "-"), "=", 2)[0] {
		case "before-start", "after-start":
			return strings.HasPrefix(a, "-")
		}
	}
	return false
}
