package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// printPlan is a dry run's output: the first judgement, array by array.
func printPlan(out io.Writer, rep remediate.Report, o options) {
	plan := rep.FirstRound()
	fmt.Fprintf(out, "ipcwatch-remediate: dry run: %d of %d Apache-shaped arrays stale, %d orphaned workers; nothing changed\n",
		rep.Stale(), len(plan), len(rep.Orphans))
	for _, e := range plan {
		verb := "keep"
		if e.Verdict == sysvipc.Stale {
			verb = "would remove"
		}
		fmt.Fprintf(out, "  %s semid %d owner %s (%s: %s)\n", verb, e.SemID, e.Owner, e.Verdict, joinReasons(e.Reasons))
	}
	for _, p := range rep.Orphans {
		verb := "would leave"
		if o.killOrphans {
			verb = "would kill"
		}
		fmt.Fprintf(out, "  %s orphaned worker pid %d (%s)\n", verb, p.PID, p.Name)
	}
	printKept(out, rep, o)
}

// printKept names, for the arrays that stay, the processes that keep
// them, at most sysvipc.MaxKeptLines, and the one thing to do per reason.
func printKept(out io.Writer, rep remediate.Report, o options) {
	file := o.policyFile
	if file == "" {
		file = defaultPolicyFile
	}
	for _, l := range sysvipc.KeptLines(rep.Kept, sysvipc.MaxKeptLines, file) {
		fmt.Fprintf(out, "    %s\n", l)
	}
	if m := rep.Maturing(); m.Arrays > 0 {
		fmt.Fprintf(out, "  %s; run the handler again %s: an engine does not call it again while the check stays CRITICAL, and an Apache started before then keeps %s while it runs (restart it through its unit after then)\n",
			m.Line(o.minAge), m.LastTime(), m.Them())
	}
}

// printResult is an acting run's output.
func printResult(out io.Writer, rep remediate.Report, o options) {
	fmt.Fprintf(out, "ipcwatch-remediate: removed %d of %d stale arrays, %d skipped, %d failed; semaphore arrays %d -> %d\n",
		rep.Count(remediate.Removed), len(rep.Actions), rep.Count(remediate.Skipped), rep.Count(remediate.Failed), rep.ArraysBefore, rep.ArraysAfter)
	for _, a := range rep.Actions {
		if a.Outcome != remediate.Removed {
			fmt.Fprintf(out, "  %s semid %d: %s\n", a.Outcome, a.SemID, a.Why)
		}
	}
	for _, a := range rep.OrphanActions {
		fmt.Fprintf(out, "  orphan pid %d: %s (%s)\n", a.PID, a.Outcome, a.Why)
	}
	if len(rep.Orphans) > 0 && len(rep.OrphanActions) == 0 {
		fmt.Fprintf(out, "  %d orphaned workers left running (--kill-orphans to end them)\n", len(rep.Orphans))
	}
	if kept := unproven(rep.FirstRound()); kept != "" {
		fmt.Fprintf(out, "  kept, not proven stale: %s\n", kept)
	}
	printKept(out, rep, o)
}

// unproven counts the unknown arrays by their reason, so a run that
// removes nothing says why ("3 master_may_own").
func unproven(plan []remediate.Evidence) string {
	why := map[sysvipc.Reason]int{}
	for _, e := range plan {
		if e.Verdict == sysvipc.Unknown && len(e.Reasons) > 0 {
			why[e.Reasons[0]]++
		}
	}
	parts := make([]string, 0, len(why))
	for r, n := range why {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func joinReasons(rs []sysvipc.Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// printGenerations says how the Apache of each removed generation died,
// with the log line that shows it, or why that is not known.
func printGenerations(out io.Writer, gens []sysvipc.Generation) {
	if len(gens) == 0 {
		return
	}
	fmt.Fprintf(out, "  %s\n", sysvipc.GenerationsLine(gens))
	for _, l := range sysvipc.GenerationDetails(gens) {
		fmt.Fprintf(out, "    %s\n", l)
	}
}
