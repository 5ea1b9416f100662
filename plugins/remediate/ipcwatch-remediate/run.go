package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// run is the whole handler: gate, lock, then each plugin in turn (trust,
// start, one Remediate call), one audit line per plugin, and a short
// summary on stdout. The plugin owns the protocol; the host judges
// nothing and calls no semctl.
func run(args []string, out io.Writer) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	if o.hook != remediate.NoHook {
		runHook(o, out)
		return nil
	}
	act, why := gate(o)
	if !act {
		// Audited too: the log then shows every time Nagios called.
		host, _ := os.Hostname()
		if err := appendAudit(o.auditLog, record{Time: time.Now().UTC(), Host: host, ArraysBefore: -1, ArraysAfter: -1,
			Trigger: trigger{State: o.state, StateType: o.stateType, Attempt: o.attempt, Decision: "nothing to do: " + why}}); err != nil {
			return err
		}
		fmt.Fprintf(out, "ipcwatch-remediate: nothing to do (%s)\n", why)
		return nil
	}
	release, err := lock(o.lockFile)
	if err != nil {
		return err
	}
	defer release()

	// The units' witness records help judge (a dead start's arrays are
	// witnessed leaks); the handler only reads them, once for every
	// plugin. Without them the normal rules decide, so a problem with
	// them is audited, not fatal.
	records, problems, serr := readRecords(o.stateDir, false)
	if serr != nil {
		problems = append(problems, serr.Error())
	}
	var failures []string
	for _, path := range o.plugins {
		if err := runPlugin(o, why, path, records, problems, out); err != nil {
			failures = append(failures, err.Error())
		}
	}
	if len(failures) > 0 {
		return errors.New(strings.Join(failures, "; "))
	}
	return nil
}

func runPlugin(o options, why, path string, records map[string][]byte, problems []string, out io.Writer) error {
	rec := newRecord(o, trigger{Manual: o.manual, State: o.state, StateType: o.stateType, Attempt: o.attempt, Decision: why})
	rec.Plugin, rec.StateProblems = path, problems
	rep, err := callPlugin(o, path, records)
	if err == nil {
		rec.fill(rep)
		gens := leakForensics(rep, records)
		rec.Generations = generationRecords(gens)
		if o.dryRun {
			printPlan(out, rep, o)
		} else {
			printResult(out, rep, o)
			err = failuresOf(rep)
		}
		printGenerations(out, gens)
	}
	if err != nil {
		rec.Error = err.Error()
	}
	if aerr := appendAudit(o.auditLog, rec); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

// failuresOf turns failed removals and orphans that survived into the
// handler's failure (exit 1).
func failuresOf(rep remediate.Report) error {
	if n := rep.Count(remediate.Failed); n > 0 {
		return fmt.Errorf("%d removals failed", n)
	}
	for _, a := range rep.OrphanActions {
		if a.Outcome == remediate.Failed {
			return fmt.Errorf("orphan pid %d: %s", a.PID, a.Why)
		}
	}
	return nil
}
