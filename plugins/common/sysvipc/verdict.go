package sysvipc

import (
	"slices"
	"time"
)

// Verdict is the classifier's answer for one semaphore array.
type Verdict string

// The verdicts. Stale needs positive evidence; anything in doubt is Unknown.
const (
	Live    Verdict = "live"
	Stale   Verdict = "stale"
	Unknown Verdict = "unknown"
)

// Reason is one machine-readable piece of evidence behind a verdict.
type Reason string

// Reasons that keep an array from being stale.
const (
	ReasonKeyed            Reason = "keyed"                // non-zero key: made to be found again
	ReasonNotApacheUser    Reason = "not_apache_user"      // owner is not an Apache user
	ReasonNotSingle        Reason = "not_single_semaphore" // Apache's mutexes have one semaphore
	ReasonUnreadable       Reason = "detail_unreadable"    // semctl refused (EACCES)
	ReasonNoDetail         Reason = "detail_unavailable"   // semctl failed otherwise, or a fixture tree
	ReasonGone             Reason = "gone"                 // removed while we looked
	ReasonWaiters          Reason = "waiters"              // ncnt or zcnt > 0
	ReasonHeld             Reason = "held"                 // value 0: locked, and SEM_UNDO would have released a dead holder
	ReasonTooYoung         Reason = "younger_than_min_age" // last change or operation within min age
	ReasonLastPIDAlive     Reason = "last_pid_alive"       // the last process to touch it still runs
	ReasonLastPIDUnknown   Reason = "last_pid_unknown"     // GETPID 0: never operated on, or outside our PID namespace
	ReasonAfterMasterStart Reason = "changed_after_master_start"
	// A master runs and the array is older than it: it may have been made
	// in that master's own start-up (mod_ssl makes its session-cache mutex
	// before the fork, and a pass-phrase dialog can last any time), or a
	// clock step moved the master's start. No evidence tells those apart
	// from a dead generation's array, so it is never stale.
	ReasonMasterMayOwn Reason = "master_may_own"
	ReasonOrphanAlive  Reason = "orphan_worker_may_use" // an orphaned worker (or unsure master) runs
	ReasonOwnerAlive   Reason = "owner_process_alive"   // a process of its owner (or non-root creator) runs
	// A process of the owner of an array root made runs, and its
	// executable cannot be read (another user's process, read without
	// root, or a zombie): it may be PHP-FPM or a declared neighbour, which
	// would not keep the array, or any other program, which would. Not
	// measured, like an unreadable array.
	ReasonOwnerUnverified Reason = "owner_exe_unreadable"
	// The array was witnessed in the start of a unit whose master still
	// runs (WitnessedJudge): that master's own, whatever else says.
	ReasonWitnessedLive Reason = "witnessed_master_alive"
	// procfs hid other users' processes from the reader (hidepid): the
	// last user, or a process of the owner, may run unseen. Not measured.
	ReasonProcessesHidden Reason = "processes_hidden"
	// The units' start records exist but this reader cannot read them:
	// one may prove the array a dead start's leak, as root's handler
	// would. Not measured.
	ReasonRecordsUnreadable Reason = "unit_records_unreadable"
)

// Reasons that make an array stale; a stale verdict carries two: why no
// server can own it, and what happened to its last user.
const (
	ReasonNoApache    Reason = "no_apache_running"
	ReasonLastPIDDead Reason = "last_pid_dead"
	// The array appeared during a unit's start and was recorded with that
	// start's master, which is gone now (WitnessedJudge).
	ReasonWitnessedLeak Reason = "witnessed_leak"
)

// PIDState is what became of an array's last-op pid.
type PIDState string

// The PID states. There is no "reused": telling a reused pid from the
// array's last user needs the process's start and the array's otime on
// one clock, and a wall-clock step breaks that comparison. A live process
// with the last-op pid keeps the array live.
const (
	PIDAlive   PIDState = "alive"
	PIDDead    PIDState = "dead"
	PIDUnknown PIDState = "unknown"
)

// singleReasons and pairReasons hold one shared slice per reason list
// the classifier gives, so 32,000 verdicts do not allocate 32,000 small
// slices. Singles are keyed by one string, not by an array of two:
// hashing two strings per verdict, 32,000 verdicts took 8.7 ms in a
// benchmark without syscalls, and 6.2 ms this way.
var (
	singleReasons = map[Reason][]Reason{}
	pairReasons   = [][]Reason{{ReasonNoApache, ReasonLastPIDDead}, {ReasonWitnessedLeak, ReasonLastPIDDead}}
)

// Reasons lists every reason the classifier gives, for the tables that
// carry them across the plugin boundary (a test checks each is there).
var Reasons = []Reason{ReasonKeyed, ReasonNotApacheUser, ReasonNotSingle, ReasonUnreadable, ReasonNoDetail,
	ReasonGone, ReasonWaiters, ReasonHeld, ReasonTooYoung, ReasonLastPIDAlive, ReasonLastPIDUnknown,
	ReasonAfterMasterStart, ReasonMasterMayOwn, ReasonOrphanAlive, ReasonOwnerAlive, ReasonOwnerUnverified, ReasonWitnessedLive,
	ReasonProcessesHidden, ReasonRecordsUnreadable, ReasonNoApache, ReasonLastPIDDead, ReasonWitnessedLeak}

func init() {
	for _, r := range Reasons {
		singleReasons[r] = []Reason{r}
	}
}

// interned returns the shared copy of rs (callers never modify Reasons).
func interned(rs []Reason) []Reason {
	switch len(rs) {
	case 1:
		if shared, ok := singleReasons[rs[0]]; ok {
			return shared
		}
	case 2:
		for _, shared := range pairReasons {
			if rs[0] == shared[0] && rs[1] == shared[1] {
				return shared
			}
		}
	}
	return slices.Clone(rs)
}

// Tally is the verdicts counted: what a face that prints counts needs of
// an assessment, without holding every array's classification.
type Tally struct {
	Stale, Live, Unknown int
	// UnknownWhy counts the unknown arrays by their first reason.
	UnknownWhy map[Reason]int
	// Owners counts, by owner uid, the arrays stale or unjudged: an owner
	// with neither has no entry.
	Owners map[uint32]OwnerTally
	// Blockers counts the arrays kept by each process that decided a
	// verdict other than stale (Classification.Blocker), by reason.
	Blockers map[Blocked]int
	// Maturing are the arrays kept for their age alone that would be stale
	// once older (Classification.Matures).
	Maturing Maturing
}

// Blocked is one process keeping arrays for one reason.
type Blocked struct {
	Reason Reason
	PID    int
}

// OwnerTally is one owner's share of a Tally.
type OwnerTally struct{ Stale, Unjudged int }

// UnjudgedReasons are the reasons of arrays whose verdict was never
// measured: semctl refused their detail (an unprivileged reader), there
// was no kernel behind them (a fixture tree), a process of their owner
// runs whose executable could not be read, procfs hid processes, or the
// units' records could not be read. A stale count beside them is no
// count.
var UnjudgedReasons = []Reason{ReasonUnreadable, ReasonNoDetail, ReasonOwnerUnverified, ReasonProcessesHidden, ReasonRecordsUnreadable}

// Unjudged counts the arrays whose verdict was never measured
// (UnjudgedReasons).
func (t Tally) Unjudged() int {
	n := 0
	for _, r := range UnjudgedReasons {
		n += t.UnknownWhy[r]
	}
	return n
}

func unjudged(v Verdict, first Reason) bool {
	return v == Unknown && slices.Contains(UnjudgedReasons, first)
}

// tallying counts verdicts one at a time. It holds the owner and the
// blocker counted last out of their maps until another comes: a leak is
// thousands of arrays of one owner, kept by one process, in a row, which
// need one map write each, not thousands.
type tallying struct {
	Tally
	owner   uint32
	counts  OwnerTally
	blocked Blocked
	kept    int
}

func (t *tallying) add(c Classification) {
	v, first := c.Verdict, c.Reasons[0]
	switch v {
	case Stale:
		t.Stale++
	case Live:
		t.Live++
		if c.Matures {
			t.Maturing.Add(time.Unix(max(c.Detail.OTime, c.Detail.CTime), 0))
		}
	default:
		t.Unknown++
		if t.UnknownWhy == nil {
			t.UnknownWhy = map[Reason]int{}
		}
		t.UnknownWhy[first]++
	}
	if by := BlockedBy(c); by != nil {
		if b := (Blocked{first, by.PID}); b != t.blocked {
			t.flushBlocked()
			t.blocked = b
		}
		t.kept++
	}
	if v != Stale && !unjudged(v, first) {
		return
	}
	if c.Array.UID != t.owner {
		t.flush()
		t.owner = c.Array.UID
	}
	if v == Stale {
		t.counts.Stale++
	} else {
		t.counts.Unjudged++
	}
}

// done returns the tally with the last owner's and blocker's counts in
// their maps.
func (t *tallying) done() Tally {
	t.flush()
	t.flushBlocked()
	return t.Tally
}

func (t *tallying) flush() {
	if t.counts == (OwnerTally{}) {
		return
	}
	t.merge(Tally{Owners: map[uint32]OwnerTally{t.owner: t.counts}})
	t.counts = OwnerTally{}
}

func (t *tallying) flushBlocked() {
	if t.kept == 0 {
		return
	}
	t.merge(Tally{Blockers: map[Blocked]int{t.blocked: t.kept}})
	t.kept = 0
}

func (t *Tally) merge(o Tally) {
	t.Stale += o.Stale
	t.Live += o.Live
	t.Unknown += o.Unknown
	t.Maturing.merge(o.Maturing)
	for r, n := range o.UnknownWhy {
		if t.UnknownWhy == nil {
			t.UnknownWhy = map[Reason]int{}
		}
		t.UnknownWhy[r] += n
	}
	for b, n := range o.Blockers {
		if t.Blockers == nil {
			t.Blockers = map[Blocked]int{}
		}
		t.Blockers[b] += n
	}
	for uid, n := range o.Owners {
		if t.Owners == nil {
			t.Owners = map[uint32]OwnerTally{}
		}
		sum := t.Owners[uid]
		sum.Stale += n.Stale
		sum.Unjudged += n.Unjudged
		t.Owners[uid] = sum
	}
}
