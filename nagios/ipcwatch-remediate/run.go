package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// run is the whole handler: gate, lock, then each plugin in turn (trust,
// start, plan, apply unless dry-run), one audit line per plugin, and a
// short summary on stdout.
func run(args []string, out io.Writer) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	act, why := gate(o)
	if !act {
		// Audited too: the log then shows every time Nagios called.
		host, _ := os.Hostname()
		if err := appendAudit(o.auditLog, record{Time: time.Now().UTC(), Host: host, ArraysBefore: countArrays(o.pid), ArraysAfter: -1,
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

	var failures []string
	for _, path := range o.plugins {
		if err := runPlugin(o, why, path, out); err != nil {
			failures = append(failures, err.Error())
		}
	}
	if len(failures) > 0 {
		return errors.New(strings.Join(failures, "; "))
	}
	return nil
}

func runPlugin(o options, why, path string, out io.Writer) error {
	host, _ := os.Hostname()
	rec := record{
		Time: time.Now().UTC(), Host: host, DryRun: o.dryRun, Plugin: path,
		Trigger: trigger{Manual: o.manual, State: o.state, StateType: o.stateType, Attempt: o.attempt, Decision: why},
		Policy:  policyRecord{ApacheUsers: o.apacheUsers, MinAge: o.minAge.String(), MaxRemovals: o.maxRemovals, KillOrphans: o.killOrphans, PID: o.pid},
	}
	err := remediateWith(o, path, &rec, out)
	if err != nil {
		rec.Error = err.Error()
	}
	if aerr := appendAudit(o.auditLog, rec); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

func remediateWith(o options, path string, rec *record, out io.Writer) error {
	sum, err := trustPlugin(path, o.manifest)
	if err != nil {
		return err
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  remediate.Handshake,
		VersionedPlugins: remediate.VersionedPlugins(nil),
		Cmd:              exec.Command(path),
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	defer client.Kill()
	conn, err := client.Client()
	if err != nil {
		return fmt.Errorf("start plugin %s: %w", path, err)
	}
	raw, err := conn.Dispense(remediate.PluginName)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", path, err)
	}
	r := raw.(remediate.Remediator)

	rec.ArraysBefore = countArrays(o.pid)
	policy := remediate.Policy{
		ApacheUsers: o.apacheUsers, MinAge: o.minAge, KillOrphans: o.killOrphans,
		MaxRemovals: o.maxRemovals, OrphanGrace: o.orphanGrace, PID: o.pid,
	}
	plan, err := r.Plan(policy)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	rec.Evidence, rec.Orphans, rec.Rounds = plan.Arrays, plan.Orphans, 1
	if o.dryRun {
		rec.ArraysAfter = rec.ArraysBefore
		printPlan(out, plan, o)
		return nil
	}
	res, err := r.Apply(plan)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	// An orphan that held a mutex or waited on one kept that array live in
	// the plan; only now that it is gone can the array be judged. One more
	// round, planned afresh, so nothing is removed on the first plan's word.
	if killedAny(res) {
		policy.MaxRemovals = max(0, o.maxRemovals-res.Count(remediate.Removed))
		if o.maxRemovals == 0 || policy.MaxRemovals > 0 {
			again, err := r.Plan(policy)
			if err != nil {
				return fmt.Errorf("plan after killing orphans: %w", err)
			}
			more, err := r.Apply(again)
			if err != nil {
				return fmt.Errorf("apply after killing orphans: %w", err)
			}
			rec.Rounds++
			rec.Evidence = append(rec.Evidence, again.Arrays...)
			plan.Arrays = append(plan.Arrays, again.Arrays...)
			res.Actions = final(append(res.Actions, more.Actions...))
			res.Orphans = append(res.Orphans, more.Orphans...)
		}
	}
	rec.Actions, rec.OrphanActs = res.Actions, res.Orphans
	rec.ArraysAfter = countArrays(o.pid)
	printResult(out, plan, res, rec)
	if n := res.Count(remediate.Failed); n > 0 {
		return fmt.Errorf("%d removals failed", n)
	}
	for _, a := range res.Orphans {
		if a.Outcome == remediate.Failed {
			return fmt.Errorf("orphan pid %d: %s", a.PID, a.Why)
		}
	}
	return nil
}

func killedAny(res remediate.Result) bool {
	for _, a := range res.Orphans {
		if a.Outcome == remediate.Killed || a.Outcome == remediate.Gone {
			return true
		}
	}
	return false
}

// final keeps each array's last action: an array skipped in the first
// round ("to be judged again") and removed in the second counts once.
func final(actions []remediate.Action) []remediate.Action {
	last := map[int32]int{}
	var out []remediate.Action
	for _, a := range actions {
		if i, ok := last[a.SemID]; ok {
			out[i] = a
			continue
		}
		last[a.SemID] = len(out)
		out = append(out, a)
	}
	return out
}

// countArrays is the O(1) count for the audit's before and after, in the
// namespace acted in (pid 0: this one); -1 when the kernel cannot say.
func countArrays(pid int) int64 {
	if pid == 0 {
		u, err := sysvipc.KernelUsage()
		if err != nil {
			return -1
		}
		return u.SemArrays
	}
	fs, err := sysvipc.NewDefaultFS()
	if err != nil {
		return -1
	}
	n := int64(-1)
	_ = fs.InNamespace(pid, func(sysvipc.FS) error {
		if u, err := sysvipc.KernelUsage(); err == nil {
			n = u.SemArrays
		}
		return nil
	})
	return n
}

func printPlan(out io.Writer, plan remediate.Plan, o options) {
	fmt.Fprintf(out, "ipcwatch-remediate: dry run: %d of %d Apache-shaped arrays stale, %d orphaned workers; nothing changed\n",
		plan.Stale(), len(plan.Arrays), len(plan.Orphans))
	for _, e := range plan.Arrays {
		verb := "keep"
		if e.Verdict == string(sysvipc.Stale) {
			verb = "would remove"
		}
		fmt.Fprintf(out, "  %s semid %d owner %s (%s: %s)\n", verb, e.SemID, e.Owner, e.Verdict, strings.Join(e.Reasons, ", "))
	}
	for _, p := range plan.Orphans {
		verb := "would leave"
		if o.killOrphans {
			verb = "would kill"
		}
		fmt.Fprintf(out, "  %s orphaned worker pid %d (%s)\n", verb, p.PID, p.Name)
	}
}

func printResult(out io.Writer, plan remediate.Plan, res remediate.Result, rec *record) {
	fmt.Fprintf(out, "ipcwatch-remediate: removed %d of %d stale arrays, %d skipped, %d failed; semaphore arrays %d -> %d\n",
		res.Count(remediate.Removed), len(res.Actions), res.Count(remediate.Skipped), res.Count(remediate.Failed), rec.ArraysBefore, rec.ArraysAfter)
	for _, a := range res.Actions {
		if a.Outcome != remediate.Removed {
			fmt.Fprintf(out, "  %s semid %d: %s\n", a.Outcome, a.SemID, a.Why)
		}
	}
	for _, a := range res.Orphans {
		fmt.Fprintf(out, "  orphan pid %d: %s (%s)\n", a.PID, a.Outcome, a.Why)
	}
	if len(plan.Orphans) > 0 && len(res.Orphans) == 0 {
		fmt.Fprintf(out, "  %d orphaned workers left running (--kill-orphans to end them)\n", len(plan.Orphans))
	}
	if kept := unproven(plan); kept != "" {
		fmt.Fprintf(out, "  kept, not proven stale: %s\n", kept)
	}
}

// unproven counts the plan's unknown arrays by their reason, so a run that
// removes nothing says why ("3 master_may_own").
func unproven(plan remediate.Plan) string {
	why := map[string]int{}
	for _, e := range plan.Arrays {
		if e.Verdict == string(sysvipc.Unknown) && len(e.Reasons) > 0 {
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
