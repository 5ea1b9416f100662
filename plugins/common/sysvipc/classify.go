package sysvipc

import (
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMinAge keeps arrays younger than this out of the stale set: a
// server that is starting up creates its mutexes before its master
// process is visible as running for long.
const DefaultMinAge = 5 * time.Minute

// clockSlack absorbs the granularity of the times compared: IPC times are
// whole seconds, process start times are ticks added to a boot time that
// /proc/stat rounds to the second.
const clockSlack = 2 * time.Second

// Policy is what the classifier needs besides the arrays and processes;
// NewPolicy builds it from an operator's choice.
type Policy struct {
	ApacheUIDs map[uint32]bool
	Users      map[uint32]string // the names the uids were given as
	MinAge     time.Duration
	Now        time.Time
	// Neighbours are the executables, by whole path, whose processes
	// never use a System V semaphore array they did not make: root's
	// policy file declares them (PolicyFile.Neighbours). Like PHP-FPM's,
	// their processes do not keep an array root made from being stale.
	Neighbours map[string]bool
	// Records is the units' start records of the namespace judged: a
	// dead start's arrays are witnessed leaks, a live start's are its
	// master's. Nil: no records.
	Records *NamespaceRecords
	// Killed are pids the remediator itself killed in this run: the
	// SEM_UNDO adjustment at their exit stamped sempid and otime, which
	// is no sign of life. An array whose last operation is theirs is not
	// kept young by it; any other process touching it after would have
	// put its own pid there.
	Killed map[int]bool
}

// Classification is one array's verdict with the evidence behind it.
type Classification struct {
	Array     SemArray
	Detail    *SemDetail // nil when the array is no candidate or could not be read
	DetailErr error
	PIDState  PIDState
	Verdict   Verdict
	Reasons   []Reason
	Age       time.Duration // since the last operation or change
	// Blocker is the process that decided a verdict other than stale,
	// when one did: the live owner's process, the running master, the
	// orphan, the last user. Nil when no process did (a waiter or a
	// holder the kernel does not name, the minimum age).
	Blocker *Process
	// Matures marks an array kept for its age alone that the same rules,
	// census and records would call stale were it older than the minimum
	// age: a leak, as far as the reader can see, judged once it is.
	Matures bool
}

// Candidate reports whether the array carries the signature of an Apache
// mutex: IPC_PRIVATE, one semaphore, owned by an Apache user.
func (p Policy) Candidate(a SemArray) (bool, Reason) {
	switch {
	case a.Key != 0:
		return false, ReasonKeyed
	case a.NSems != 1:
		return false, ReasonNotSingle
	case !p.ApacheUIDs[a.UID] || a.UID == 0:
		// Never root's, whatever the configured users say.
		return false, ReasonNotApacheUser
	}
	return true, ""
}

// Classify gives every array a verdict, on at most threads threads
// (FS.Threads; runtime.GOMAXPROCS(0) outside a namespace's thread). Only
// candidates are probed; the census must have had AssignRoles called with
// the same Apache users.
func Classify(arrays []SemArray, census Census, prober SemProber, pol Policy, threads int) []Classification {
	return classify(arrays, census, prober, pol, threads)
}

// classify judges each array on the worker that probed it: at 32,000
// arrays the judging is a fifth of the work, and done serially after the
// probes it was a fifth of the check's time on two cores.
func classify(arrays []SemArray, census Census, prober SemProber, pol Policy, maxWorkers int) []Classification {
	j := newRules(census, pol)
	out := make([]Classification, len(arrays))
	probes := make([]semAnswer, len(arrays))
	eachPart(len(arrays), maxWorkers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = j.probeAndJudge(arrays[i], prober, &probes[i])
		}
	})
	return out
}

// tally is classify keeping only the counts: each probe lives on its
// worker's stack, so 32,000 arrays cost no memory of their own. At that
// size the page faults of the kept classifications were a tenth of a
// check's time.
func tally(arrays []SemArray, census Census, prober SemProber, pol Policy, maxWorkers int) Tally {
	j := newRules(census, pol)
	return countParts(len(arrays), maxWorkers, func(i int, t *tallying) {
		var p semAnswer
		c := j.probeAndJudge(arrays[i], prober, &p)
		t.add(c)
	})
}

// tallyProbed counts the verdicts of arrays probed already.
func tallyProbed(arrays []SemArray, probes []packedAnswer, census Census, pol Policy, maxWorkers int) Tally {
	j := newRules(census, pol)
	return countParts(len(arrays), maxWorkers, func(i int, t *tallying) {
		p := semAnswer{detail: detailOf(arrays[i]), err: probes[i].err}
		probes[i].fill(&p.detail)
		t.add(j.classify(arrays[i], &p))
	})
}

// countParts counts the verdicts of [0, n) on eachPart's workers, each
// part into its own tally, merged as it finishes. countAt adds array i's
// verdict itself: a verdict returned through it would take its probe to
// the heap (escape analysis follows the Detail pointer).
func countParts(n, maxWorkers int, countAt func(i int, t *tallying)) Tally {
	var mu sync.Mutex
	var total Tally
	eachPart(n, maxWorkers, func(lo, hi int) {
		var t tallying
		for i := lo; i < hi; i++ {
			countAt(i, &t)
		}
		part := t.done()
		mu.Lock()
		total.merge(part)
		mu.Unlock()
	})
	return total
}

// probeAndJudge probes a candidate into p and judges it.
func (j rules) probeAndJudge(a SemArray, prober SemProber, p *semAnswer) Classification {
	if ok, _ := j.pol.Candidate(a); ok {
		p.detail, p.err = prober.ProbeSem(a)
	}
	return j.classify(a, p)
}

// Judge is the classifier's rules bound to one census and policy: the
// remediator's re-check before each removal uses the same rules, and the
// same precomputed census, as Classify.
type Judge struct{ j rules }

// NewJudge sorts the census out once for many Recheck calls.
func NewJudge(census Census, pol Policy) Judge { return Judge{newRules(census, pol)} }

// Recheck judges one array again from a fresh probe: the remediator's
// last look before a removal.
func (j Judge) Recheck(a SemArray, d SemDetail) Classification {
	return j.j.classify(a, &semAnswer{detail: d})
}

// rules holds what every array's verdict is checked against: the policy
// and the census's Apache processes and owners, sorted out once, so each
// array costs map look-ups instead of a pass over every process.
type rules struct {
	pol       Policy
	census    Census
	masters   []*Process
	orphans   []*Process
	workers   []*Process
	witnesses Witnesses
	// users are, by uid, the live process of lowest pid that is not
	// Apache; rootArrayUsers the same leaving out PHP-FPM's and the
	// declared neighbours' (for arrays root made: see ownerMayUse), and
	// the processes whose executable is unreadable, which are unverified.
	users, rootArrayUsers, unverified map[uint32]*Process
}

func newRules(census Census, pol Policy) rules {
	j := rules{pol: pol, census: census, masters: census.WithRole(RoleMaster), orphans: census.WithRole(RoleOrphan),
		workers: census.WithRole(RoleWorker), witnesses: pol.Records.Sorted(census),
		users: map[uint32]*Process{}, rootArrayUsers: map[uint32]*Process{}, unverified: map[uint32]*Process{}}
	for _, p := range census.Procs {
		if p.Role != RoleNone {
			continue
		}
		lowest(j.users, p)
		switch {
		case p.ExePath == "":
			lowest(j.unverified, p)
		case !p.IsPHPFPM() && !pol.declared(p):
			lowest(j.rootArrayUsers, p)
		}
	}
	return j
}

// lowest files p under its real and effective uids where it has the
// lowest pid: the process a kept array names is the same in every run.
func lowest(by map[uint32]*Process, p *Process) {
	for _, uid := range []uint32{p.RUID, p.EUID} {
		if q := by[uid]; q == nil || p.PID < q.PID {
			by[uid] = p
		}
	}
}

// declared reports whether p runs a declared neighbour, known by its
// executable's whole path; an unreadable executable (another user's
// process, without root) is never taken for one.
func (p Policy) declared(proc *Process) bool {
	return proc.ExePath != "" && p.Neighbours[proc.ExePath]
}

// semAnswer is one candidate's semctl answer (err set when it failed).
type semAnswer struct {
	detail SemDetail
	err    error
}

// eachPart runs f over [0, n) in chunks on at most maxWorkers goroutines:
// the semctl calls are nearly all of a classification's time, and they do
// not contend (each array has its own lock). Workers take the next chunk
// as they finish one, so a core the hypervisor lends elsewhere for a
// while does not leave the other idle at the end.
func eachPart(n, maxWorkers int, f func(lo, hi int)) {
	const chunk = 512
	workers := min(maxWorkers, max(1, n/256))
	if workers == 1 {
		f(0, n)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= n {
					return
				}
				f(lo, min(lo+chunk, n))
			}
		})
	}
	wg.Wait()
}

// classify gives one array its verdict. Stale needs positive evidence,
// and while any Apache process runs in the namespace there is none: an
// array older than a running master may be that master's own, made in its
// start-up before the fork (mod_ssl's session-cache mutex), and neither
// the array's times, its last pid nor the master's start tell that apart
// from a dead generation's array. Only the outage proves a leak: no
// Apache process at all, so none can use an Apache-signature array.
func (j rules) classify(a SemArray, p *semAnswer) Classification {
	if ok, why := j.pol.Candidate(a); !ok {
		return Classification{Array: a, PIDState: PIDUnknown, Verdict: Live, Reasons: interned([]Reason{why})}
	}
	c := j.unseen(j.witnesses.judge(j.candidate(a, p), j))
	if c.Verdict == Live && c.Reasons[0] == ReasonTooYoung {
		// The lowest minimum age, not 0: after a backward clock step an
		// array's last change lies ahead and its age is negative.
		aged := j
		aged.pol.MinAge = math.MinInt64
		c.Matures = aged.unseen(aged.witnesses.judge(aged.candidate(a, p), aged)).Verdict == Stale
	}
	return c
}

// decidedInSight are the reasons a process the reader sees decided, which
// no record changes.
var decidedInSight = []Reason{ReasonWaiters, ReasonHeld, ReasonLastPIDAlive}

// unseen leaves unjudged a verdict that what this reader cannot see may
// change: a stale one while procfs hides processes (a last user or an
// owner's process may run unseen), and, while records exist that it
// cannot read, any verdict a record could turn stale: all but a stale
// one, or one that a process in sight decided (a waiter, a holder, a live
// last user).
func (j rules) unseen(c Classification) Classification {
	switch {
	case c.Verdict == Stale && j.census.Hidden:
		c.Verdict, c.Blocker, c.Reasons = Unknown, nil, interned([]Reason{ReasonProcessesHidden})
	case j.pol.Records.unreadable() && c.Verdict != Stale && c.Detail != nil && !slices.Contains(decidedInSight, c.Reasons[0]):
		c.Verdict, c.Blocker, c.Reasons = Unknown, nil, interned([]Reason{ReasonRecordsUnreadable})
	}
	return c
}

// candidate judges an Apache-shaped array by the rules, before the
// records have their say.
func (j rules) candidate(a SemArray, p *semAnswer) Classification {
	c := Classification{Array: a, PIDState: PIDUnknown}
	verdict := func(v Verdict, by *Process, r ...Reason) Classification {
		c.Verdict, c.Blocker, c.Reasons = v, by, interned(r)
		return c
	}
	if err := p.err; err != nil {
		c.DetailErr = err
		switch {
		case errors.Is(err, ErrGone):
			return verdict(Unknown, nil, ReasonGone)
		case errors.Is(err, ErrPermission):
			return verdict(Unknown, nil, ReasonUnreadable)
		}
		return verdict(Unknown, nil, ReasonNoDetail)
	}
	// Detail points into the probe, which the caller keeps as long as the
	// verdict (classify: one allocation for all arrays instead of one each).
	d := &p.detail
	c.Detail = d

	lastOp := time.Unix(max(d.OTime, d.CTime), 0)
	created := time.Unix(d.CTime, 0)
	c.Age = j.pol.Now.Sub(lastOp)
	c.PIDState = lastPIDState(d.PID, j.census)

	if why, ok := inUse(d); ok {
		return verdict(Live, nil, why)
	}
	switch {
	case c.Age < j.pol.MinAge && !j.pol.Killed[d.PID]:
		return verdict(Live, nil, ReasonTooYoung)
	case c.PIDState == PIDAlive:
		return verdict(Live, j.census.Procs[d.PID], ReasonLastPIDAlive)
	}
	for _, m := range j.masters {
		if !created.Before(m.Start.Add(-clockSlack)) {
			return verdict(Live, m, ReasonAfterMasterStart)
		}
	}
	switch {
	case len(j.masters) > 0:
		return verdict(Unknown, j.masters[0], ReasonMasterMayOwn)
	case len(j.orphans) > 0:
		return verdict(Unknown, j.orphans[0], ReasonOrphanAlive)
	case len(j.workers) > 0:
		return verdict(Unknown, j.workers[0], ReasonOrphanAlive)
	}
	if by, why := j.ownerMayUse(a); by != nil {
		return verdict(Unknown, by, why)
	}
	if c.PIDState != PIDDead {
		return verdict(Unknown, nil, ReasonLastPIDUnknown)
	}
	return verdict(Stale, nil, ReasonNoApache, ReasonLastPIDDead)
}

// inUse is what the probe itself shows of a user, whatever the census and
// the records say: a process waiting on the array, or one holding it
// (value 0).
func inUse(d *SemDetail) (Reason, bool) {
	switch {
	case d.NCnt > 0 || d.ZCnt > 0:
		return ReasonWaiters, true
	case d.Value == 0:
		return ReasonHeld, true
	}
	return "", false
}

// ownerMayUse finds a process other than Apache that may use the array:
// any live process of its owner, or of its creator when that was not
// root, whenever it started. A program may make an array, hand it to a
// user and fork workers of that user later (as Apache does), or exit and
// leave it to a child; and a start time compared with the array's ctime
// is two clocks a step pulls apart. So a neighbour of the Apache user (a
// cron job, a daemon's worker) keeps the leaks unknown while it runs.
// PHP-FPM is the one neighbour known by what it runs: PHP reaches System V
// semaphores only through sysvsem, whose sem_get finds or makes an array
// by key and always with three semaphores, so a pool can neither make an
// Apache-shaped array nor use a private one that root made (cuid 0). Root
// declares the others (Policy.Neighbours), for arrays root made alone: an
// array a non-root program made stays its creator's, declared or not.
// Both are known by the executable's whole path; a process whose path
// cannot be read (another user's, without root) is neither proven one nor
// proven not one, so the array is left unjudged (ReasonOwnerUnverified).
func (j rules) ownerMayUse(a SemArray) (*Process, Reason) {
	if a.CUID != 0 {
		if p := j.users[a.UID]; p != nil {
			return p, ReasonOwnerAlive
		}
		return j.users[a.CUID], ReasonOwnerAlive
	}
	// An array root made: a process whose executable cannot be read may
	// be PHP-FPM or a neighbour, or not; a readable one that is neither
	// decides first.
	if p := j.rootArrayUsers[a.UID]; p != nil {
		return p, ReasonOwnerAlive
	}
	return j.unverified[a.UID], ReasonOwnerUnverified
}

// lastPIDState judges GETPID: a live process with that pid keeps the array
// live, whenever it started (see PIDState).
func lastPIDState(pid int, census Census) PIDState {
	switch {
	case pid <= 0:
		return PIDUnknown
	case census.Procs[pid] == nil:
		return PIDDead
	}
	return PIDAlive
}

// Count returns how many classifications have the verdict.
func Count(cs []Classification, v Verdict) int {
	n := 0
	for _, c := range cs {
		if c.Verdict == v {
			n++
		}
	}
	return n
}

// goUnlessInline runs f on a new goroutine, or inline when alone: inline
// keeps the work on the caller's thread, which matters inside InNamespace.
func goUnlessInline(wg *sync.WaitGroup, inline bool, f func()) {
	if inline {
		f()
		return
	}
	wg.Go(f)
}
