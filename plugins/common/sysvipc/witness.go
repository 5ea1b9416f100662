package sysvipc

import "time"

// A unit's start hooks witness its arrays: what appeared during one start
// of an Apache unit belongs to that start's master. Once that master is
// gone (its pid free, or taken by a process with other start ticks), its
// witnessed arrays are leaks whatever else runs on the host: another
// Apache instance, PHP-FPM, any process of the Apache user. This file
// holds the rules that judge such an array; the record itself is the
// remediation plugin's (plugins/remediate/leaks).

// Witnessed identifies an array a unit's after-start hook recorded. The
// semid alone would do (the kernel bumps a sequence number in it on
// reuse); key, owner, creator, size and ctime make a replaced array
// impossible to take for the recorded one.
type Witnessed struct {
	SemID int32  `json:"semid"`
	Key   int32  `json:"key"`
	UID   uint32 `json:"uid"`
	CUID  uint32 `json:"cuid"`
	NSems uint64 `json:"nsems"`
	CTime int64  `json:"ctime"`
}

// WitnessOf is the record of an array as listed now.
func WitnessOf(a SemArray) Witnessed {
	return Witnessed{SemID: a.SemID, Key: a.Key, UID: a.UID, CUID: a.CUID, NSems: a.NSems, CTime: a.CTime}
}

// Same reports whether a is the recorded array, unchanged in identity.
func (w Witnessed) Same(a SemArray) bool { return w == WitnessOf(a) }

// ProcessID is a process over time: a pid and the clock ticks after boot
// it started at, which no wall-clock step moves. A pid taken by another
// process has other start ticks.
type ProcessID struct {
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"`
}

// IDOf is the process's identity.
func IDOf(p *Process) ProcessID { return ProcessID{PID: p.PID, StartTicks: p.StartTicks} }

// Alive reports whether the census holds that same process.
func (id ProcessID) Alive(c Census) bool {
	p := c.Procs[id.PID]
	return p != nil && p.StartTicks == id.StartTicks
}

// Witnessed judges an array recorded in the start of master, a master
// the caller found dead, and found unchanged (Witnessed.Same). No minimum
// age and no other server matter: the record is positive evidence whose
// array it is. What can still use it does: a waiter, a holder, a live
// last user (a process the remediator killed is not in a census taken
// after), and what is left of that master's generation: any Apache
// process in its process group (Apache's master leads its own group, and
// its children stay in it), or any orphaned Apache worker at all.
func (j Judge) Witnessed(a SemArray, d SemDetail, master ProcessID) Classification {
	return j.j.witnessed(a, d, master)
}

func (j rules) witnessed(a SemArray, d SemDetail, master ProcessID) Classification {
	c := Classification{Array: a, Detail: &d, PIDState: lastPIDState(d.PID, j.census), Verdict: Live}
	c.Age = j.pol.Now.Sub(time.Unix(max(d.OTime, d.CTime), 0))
	verdict := func(v Verdict, by *Process, r ...Reason) Classification {
		c.Verdict, c.Blocker, c.Reasons = v, by, interned(r)
		return c
	}
	if why, ok := inUse(&d); ok {
		return verdict(Live, nil, why)
	}
	switch {
	case c.PIDState == PIDAlive:
		return verdict(Live, j.census.Procs[d.PID], ReasonLastPIDAlive)
	case len(j.orphans) > 0:
		return verdict(Unknown, j.orphans[0], ReasonOrphanAlive)
	}
	if p, apache := j.groupMember(master.PID); p != nil && apache {
		return verdict(Unknown, p, ReasonOrphanAlive)
	} else if p != nil {
		// Its executable cannot be read (another user's process, read
		// without root): it may be a renamed Apache's orphan.
		return verdict(Unknown, p, ReasonOwnerUnverified)
	}
	if c.PIDState != PIDDead {
		// GETPID 0: a process outside this PID namespace may have been
		// the last to touch it.
		return verdict(Unknown, nil, ReasonLastPIDUnknown)
	}
	return verdict(Stale, nil, ReasonWitnessedLeak, ReasonLastPIDDead)
}

// groupMember is the Apache process of lowest pid in process group pgrp,
// apache true; without one, the process of lowest pid there whose
// executable could not be read, which may be Apache under another name.
func (j rules) groupMember(pgrp int) (p *Process, apache bool) {
	var found, unread *Process
	for _, q := range j.census.Procs {
		switch {
		case q.PGRP != pgrp:
		case q.Role != RoleNone && (found == nil || q.PID < found.PID):
			found = q
		case q.Role == RoleNone && q.ExePath == "" && (unread == nil || q.PID < unread.PID):
			unread = q
		}
	}
	if found != nil {
		return found, true
	}
	return unread, false
}

// WitnessedLive is the verdict for an array recorded in the start of a
// master that still runs: its own, never stale.
func WitnessedLive(c Classification) Classification {
	c.Verdict, c.Blocker, c.Reasons = Live, nil, interned([]Reason{ReasonWitnessedLive})
	return c
}
