package leaks

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// A systemd unit's two start hooks witness the unit's own arrays:
//
//   - before-start (ExecStartPre) removes what dead starts left (witnessed
//     leaks, and what the normal rules prove), then notes which arrays and
//     which Apache masters exist right before the start;
//   - after-start (ExecStartPost, with $MAINPID) records the Apache-shaped
//     arrays that appeared since, with the master they belong to.
//
// An array is recorded only when the start's own processes account for
// it: its last operation is by the master or one of its descendants, or
// by a process that is gone while no other Apache started in the window
// (mod_ssl's session-cache mutex is made by the start-up process, which
// exits when the master detaches). Another instance starting at the same
// moment has its start-up process alive, or its master new in the window,
// so nothing of its is taken for the unit's.

// beforeStart cleans, then snapshots for the after-start.
func (r *Remediator) beforeStart(sys System, req remediate.Request, nsRecords *sysvipc.NamespaceRecords) (remediate.Report, error) {
	pol, err := corePolicy(req.Policy, r.Now())
	if err != nil {
		return remediate.Report{}, err
	}
	// The policy's minimum age applies even with no Apache process at
	// all: a root daemon's lock, handed to www-data and used by short jobs
	// every few seconds, looks exactly like a leak between two jobs. The
	// unit's own crash loop needs no exception (its arrays are
	// witnessed).
	rep, err := r.clean(sys, req, nsRecords)
	if err != nil {
		return rep, err
	}
	// What went, or on a dry run what the plan would remove.
	var gone []int32
	if req.DryRun {
		for _, e := range rep.FirstRound() {
			if e.Verdict == sysvipc.Stale {
				gone = append(gone, e.SemID)
			}
		}
	} else {
		for _, a := range rep.Actions {
			if a.Outcome == remediate.Removed {
				gone = append(gone, a.SemID)
			}
		}
	}
	removed, witnessed := len(gone), 0
	byWitness := witnessedLeaks(rep.Evidence)
	for _, id := range gone {
		if byWitness[id] {
			witnessed++
		}
	}
	kept := keptSummary(rep)
	rep.Note = fmt.Sprintf("removed %d arrays (%d witnessed leaks of dead starts)%s", removed, witnessed, kept)
	if killed := countOrphans(rep, remediate.Killed) + countOrphans(rep, remediate.Gone); killed > 0 {
		rep.Note += fmt.Sprintf("; ended %d orphaned Apache workers", killed)
	}
	if n := len(rep.Orphans); n > 0 && !req.Policy.KillOrphans {
		rep.Note += fmt.Sprintf("; %d orphaned Apache workers left running, and the arrays they may use kept (kill_orphans is off)", n)
	}
	if req.DryRun {
		rep.Note = "dry run, nothing changed: would have " + rep.Note
		return rep, nil
	}
	arrays, census, err := arraysAndCensus(sys, pol)
	if err != nil {
		return rep, err
	}
	rec := nsRecords.Units[req.Unit]
	rec.Unit = req.Unit
	rec.Starts = pruneStarts(rec.Starts, arrays, census, sys.Namespace())
	snap := &sysvipc.StartSnapshot{Time: r.Now(), IPCNS: sys.Namespace(), SemIDs: make([]int32, 0, len(arrays))}
	for _, a := range arrays {
		snap.SemIDs = append(snap.SemIDs, a.SemID)
	}
	for _, p := range census.Procs {
		snap.Ticks = max(snap.Ticks, p.StartTicks)
		if p.Role == sysvipc.RoleMaster || p.Role == sysvipc.RoleOrphan {
			snap.Apache = append(snap.Apache, sysvipc.IDOf(p))
		}
	}
	slices.SortFunc(snap.Apache, func(a, b sysvipc.ProcessID) int { return a.PID - b.PID })
	rec.Before = snap
	rep.Record = rec.Encode()
	return rep, nil
}

// afterStart records the arrays this start of the unit made.
func (r *Remediator) afterStart(sys System, req remediate.Request, nsRecords *sysvipc.NamespaceRecords) (remediate.Report, error) {
	count := countArrays(sys)
	rep := remediate.Report{Namespace: sys.Namespace(), ArraysBefore: count, ArraysAfter: count, DryRun: req.DryRun, Rounds: 1}
	now := r.Now()
	pol, err := corePolicy(req.Policy, now)
	if err != nil {
		return rep, err
	}
	arrays, census, err := arraysAndCensus(sys, pol)
	if err != nil {
		return rep, err
	}
	ns := sys.Namespace()
	witnesses := nsRecords.Sorted(census)
	rec := nsRecords.Units[req.Unit]
	rec.Unit = req.Unit
	before := rec.Before
	rec.Before = nil // taken by this start
	if before != nil && before.IPCNS != ns {
		before = nil // another namespace's: tells nothing of this one
	}
	rec.Starts = pruneStarts(rec.Starts, arrays, census, ns)

	// Whatever is recorded or not, the pruned record is stored.
	recordNothing := func(format string, args ...any) (remediate.Report, error) {
		rep.Note = fmt.Sprintf(format, args...)
		rep.Record = rec.Encode()
		return rep, nil
	}
	master := census.Procs[req.MainPID]
	if why := notTheStartsMaster(req.MainPID, master, before); why != "" {
		return recordNothing("%s: nothing recorded", why)
	}
	start, ev, skipped := recordStart(sys, pol, arrays, census, witnesses, master, before, req.Unit)
	start.IPCNS, start.Recorded = ns, now
	rep.Evidence = ev
	rec.Starts = append(rec.Starts, start)
	rep.Record = rec.Encode()
	rep.Note = fmt.Sprintf("recorded %d arrays of master pid %d", len(start.Arrays), master.PID)
	if len(skipped) > 0 {
		rep.Note += "; not recorded: " + summarize(skipped)
	}
	return rep, nil
}

// notTheStartsMaster is "" for a main pid that is this start's master,
// and otherwise why it is not.
func notTheStartsMaster(mainPID int, master *sysvipc.Process, before *sysvipc.StartSnapshot) string {
	switch {
	case mainPID <= 0 || master == nil:
		return fmt.Sprintf("main pid %d is not running", mainPID)
	// The main pid must be this start's: one that already ran at the
	// before-start (a PIDFile naming another instance's pid file, say)
	// would get that instance's arrays recorded as this unit's.
	case before != nil && slices.Contains(before.Apache, sysvipc.IDOf(master)):
		return fmt.Sprintf("main pid %d was running before this start: not its master", mainPID)
	// It must be an Apache master leading its own process group (a
	// daemon's after setsid, or systemd's setsid for a foreground one):
	// the pid of a worker, or of a wrapper, would claim what another
	// process uses, and the witnessed rules find a dead start's leftovers
	// by that group.
	case master.Role != sysvipc.RoleMaster || master.PGRP != master.PID:
		return fmt.Sprintf("main pid %d is not an Apache master leading its process group (%s, group %d)", mainPID, roleName(master.Role), master.PGRP)
	}
	return ""
}

// recordStart picks the arrays this start made: candidates that did not
// exist at the before-start, that no other live unit recorded, and that
// notOwn attributes to the master; skipped counts the others by why.
func recordStart(sys System, pol sysvipc.Policy, arrays []sysvipc.SemArray, census sysvipc.Census, witnesses sysvipc.Witnesses,
	master *sysvipc.Process, before *sysvipc.StartSnapshot, unit string) (start sysvipc.UnitStart, ev []remediate.Evidence, skipped map[string]int) {
	tree := descendants(census, master.PID)
	window, why := windowClear(before, arrays, census, tree)
	existed := map[int32]bool{}
	if before != nil {
		for _, id := range before.SemIDs {
			existed[id] = true
		}
	}
	start = sysvipc.UnitStart{Master: sysvipc.IDOf(master), Shared: master.Shared}
	skipped = map[string]int{}
	for _, a := range arrays {
		if ok, _ := pol.Candidate(a); !ok || existed[a.SemID] {
			continue
		}
		if other, ok := witnesses.LiveUnit(a.SemID); ok && other != unit {
			skipped["recorded by "+other]++
			continue
		}
		d, err := sys.ProbeSem(a)
		if err != nil {
			skipped["unreadable"]++
			continue
		}
		last := census.Procs[d.PID]
		if why := notOwn(attribution{array: a, lastPID: d.PID, last: last, master: master, inTree: tree[d.PID], window: window, windowWhy: why}); why != "" {
			skipped[why]++
			continue
		}
		start.Arrays = append(start.Arrays, sysvipc.WitnessOf(a))
		pidState := sysvipc.PIDAlive
		if last == nil {
			pidState = sysvipc.PIDDead
		}
		ev = append(ev, evidence(sysvipc.Classification{
			Array: a, Detail: &d, PIDState: pidState, Verdict: sysvipc.Live, Reasons: []sysvipc.Reason{sysvipc.ReasonWitnessedLive},
		}))
	}
	return start, ev, skipped
}

// attribution is what decides whether an array that appeared during a
// unit's start is that start's own.
type attribution struct {
	array     sysvipc.SemArray
	lastPID   int              // GETPID: its last user
	last      *sysvipc.Process // the census's process of that pid; nil when gone
	master    *sysvipc.Process // the start's master, by systemd's $MAINPID
	inTree    bool             // lastPID is the master or below it
	window    bool             // no process outside the start could have made arrays during it (windowClear)
	windowWhy string           // why the window is not clear
}

// notOwn is "" for an array the start made, and otherwise why it is not
// recorded. The start's own: the master or one of its workers (forks of
// it: the same executable) touched it last, after that process started
// (not a process that once had the pid); or its last user is gone, the
// window was clear, root made it (Apache's start-up process runs as
// root), before the master started (what the start-up process made, it
// made before it forked the master).
func notOwn(x attribution) string {
	a, last, master := x.array, x.last, x.master
	switch {
	case x.inTree && last != nil && last.Role != sysvipc.RoleNone && master.ExePath != "" && last.ExePath == master.ExePath &&
		touchedSince(a, last, master, x.window):
		return ""
	case x.inTree:
		// A piped logger, a RewriteMap program or a CGI script is the
		// master's child but runs another program, even one linked with
		// APR: what it makes or hands on is not the server's mutex.
		return "last used by a process below the master that is not the server, or not surely after it started"
	case x.lastPID > 0 && last == nil && !x.window:
		return "last pid gone and " + x.windowWhy
	case x.lastPID > 0 && last == nil && a.CUID != 0:
		return "last pid gone and made by uid " + strconv.FormatUint(uint64(a.CUID), 10)
	case x.lastPID > 0 && last == nil && time.Unix(a.CTime, 0).After(master.Start.Add(startSlack)):
		return "last pid gone and made after the master started"
	case x.lastPID > 0 && last == nil:
		return ""
	}
	return "last used by another process"
}

// touchedSince reports whether the array's last change or operation came
// after process p started, so that p, not an earlier process with its
// pid, made it. Whole-second IPC times against a start on a rounded boot
// time leave startSlack either way. The master is the unit's own by
// systemd's word, so within the slack it counts. For a worker, a touch
// within the slack of its start could be a gone process's whose pid it
// took (a neighbour's recycled worker, on a host whose pids wrap fast):
// then only a clear window lets it count.
func touchedSince(a sysvipc.SemArray, p, master *sysvipc.Process, window bool) bool {
	touched := time.Unix(max(a.OTime, a.CTime), 0)
	switch {
	case touched.Before(p.Start.Add(-startSlack)):
		return false
	case p.PID == master.PID, !touched.Before(p.Start.Add(startSlack)):
		return true
	}
	return window
}

// startSlack absorbs the clocks compared: ctime in whole seconds, a
// process start in ticks on a boot time /proc/stat rounds to the second.
// A clock step between the two only makes the hook record less.
const startSlack = 2 * time.Second

// windowClear reports whether an array whose last user is gone can be
// taken for this start's: only when the before-start's snapshot exists
// and no process outside the start's own tree started since, other than
// this hook itself (another instance's start-up process makes arrays and
// exits too; a root daemon may make one, hand it to a www-data worker it
// forks and exit; a reload forks new workers), and no Apache master or
// orphan outside the tree is new.
//
// A restart of a running Apache (graceful, or SIGHUP) makes new arrays
// from a master that was there before, and their last user may be a
// worker that has exited since; the restart also removes the arrays it
// replaces. So an array of the snapshot that is gone now makes the window
// unclear too.
func windowClear(before *sysvipc.StartSnapshot, arrays []sysvipc.SemArray, census sysvipc.Census, tree map[int]bool) (bool, string) {
	if before == nil {
		return false, "no before-start snapshot"
	}
	now := make(map[int32]bool, len(arrays))
	for _, a := range arrays {
		now[a.SemID] = true
	}
	for _, id := range before.SemIDs {
		if !now[id] {
			return false, fmt.Sprintf("semid %d of the before-start is gone (another Apache restarted meanwhile?)", id)
		}
	}
	self := map[int]bool{}
	for pid := os.Getpid(); pid > 0 && !self[pid]; {
		self[pid] = true
		p := census.Procs[pid]
		if p == nil {
			break
		}
		pid = p.PPID
	}
	for _, p := range census.Procs {
		kernel := p.PID == 2 || p.PPID == 2 // kthreadd and its threads
		if p.StartTicks > before.Ticks && !tree[p.PID] && !self[p.PID] && !kernel {
			return false, fmt.Sprintf("pid %d (%s) started meanwhile", p.PID, sysvipc.Printable(p.Comm))
		}
	}
	old := map[sysvipc.ProcessID]bool{}
	for _, id := range before.Apache {
		old[id] = true
	}
	for _, p := range census.Procs {
		if (p.Role == sysvipc.RoleMaster || p.Role == sysvipc.RoleOrphan) && !tree[p.PID] && !old[sysvipc.IDOf(p)] {
			return false, fmt.Sprintf("another Apache (pid %d) started meanwhile", p.PID)
		}
	}
	return true, ""
}

// descendants is the master and every process below it.
func descendants(census sysvipc.Census, root int) map[int]bool {
	children := map[int][]int{}
	for pid, p := range census.Procs {
		children[p.PPID] = append(children[p.PPID], pid)
	}
	tree := map[int]bool{root: true}
	for queue := []int{root}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			if !tree[c] {
				tree[c] = true
				queue = append(queue, c)
			}
		}
	}
	return tree
}

// pruneStarts drops recorded arrays of namespace ns that are gone or
// replaced, and the starts of dead masters with nothing left; another
// namespace's starts stay as they are.
func pruneStarts(starts []sysvipc.UnitStart, arrays []sysvipc.SemArray, census sysvipc.Census, ns uint64) []sysvipc.UnitStart {
	now := make(map[int32]sysvipc.SemArray, len(arrays))
	for _, a := range arrays {
		now[a.SemID] = a
	}
	var out []sysvipc.UnitStart
	for _, s := range starts {
		if s.IPCNS != ns {
			out = append(out, s)
			continue
		}
		var left []sysvipc.Witnessed
		for _, w := range s.Arrays {
			if a, ok := now[w.SemID]; ok && w.Same(a) {
				left = append(left, w)
			}
		}
		if len(left) == 0 && !s.Master.Alive(census) {
			continue
		}
		s.Arrays = left
		out = append(out, s)
	}
	return out
}

func countOrphans(rep remediate.Report, o remediate.Outcome) int {
	n := 0
	for _, a := range rep.OrphanActions {
		if a.Outcome == o {
			n++
		}
	}
	return n
}

// witnessedLeaks are the semids judged witnessed leaks, in any round.
func witnessedLeaks(evidence []remediate.Evidence) map[int32]bool {
	out := map[int32]bool{}
	for _, e := range evidence {
		if slices.Contains(e.Reasons, sysvipc.ReasonWitnessedLeak) {
			out[e.SemID] = true
		}
	}
	return out
}

// keptSummary names why candidate arrays stayed, most common first.
func keptSummary(rep remediate.Report) string {
	why := map[string]int{}
	for _, e := range rep.Remaining() {
		if len(e.Reasons) == 0 {
			continue
		}
		why[string(e.Reasons[0])]++
	}
	for _, a := range rep.OrphanActions {
		if a.Outcome == remediate.Skipped || a.Outcome == remediate.Failed {
			why[fmt.Sprintf("orphan pid %d %s: %s", a.PID, a.Outcome, a.Why)]++
		}
	}
	if len(why) == 0 {
		return ""
	}
	return "; kept: " + summarize(why) + keptBy(rep.Kept)
}

// keptBy names, on the hook's one line, the process that keeps the most
// arrays, and how many others keep some: the audit record names them.
func keptBy(ks []sysvipc.Kept) string {
	if len(ks) == 0 {
		return ""
	}
	s := "; kept by " + ks[0].By.String()
	if len(ks) > 1 {
		s += fmt.Sprintf(" and %d more processes (the audit log names them)", len(ks)-1)
	}
	return s
}

// summarize is "3 reason, 1 other" sorted by count, then name.
func summarize(counts map[string]int) string {
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", counts[k], k)
	}
	return strings.Join(parts, ", ")
}
