package check

import (
	"fmt"
	"os"
	"slices"

	"github.com/ipcwatch/ipcwatch/nagios/nagrange"
	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// resource is one counted thing with its limit and resolved thresholds.
type resource struct {
	label      string // perfdata label
	noun       string // in the summary
	used       int64
	limit      int64 // -1: no kernel limit (stale arrays)
	warn, crit nagrange.Range
	state      nagrange.State
	// unjudged: the stale count was not taken, because this many arrays
	// could not be judged, by reason (sysvipc.UnjudgedReasons): no number
	// is printed for it.
	unjudged map[sysvipc.Reason]int
}

// notMeasured is how many arrays kept the stale count from being taken.
func (r resource) notMeasured() int {
	n := 0
	for _, c := range r.unjudged {
		n += c
	}
	return n
}

func (r resource) percent() float64 {
	switch {
	case r.limit == 0:
		return 100 // nothing more fits
	case r.limit < 0:
		return 0
	}
	return 100 * float64(r.used) / float64(r.limit)
}

// summary is the resource's part of the first line.
func (r resource) summary() string {
	for _, why := range sysvipc.UnjudgedReasons {
		if n := r.unjudged[why]; n > 0 {
			return fmt.Sprintf("%s not measured: %s", r.noun, unjudgedText(why, n))
		}
	}
	if r.limit < 0 {
		return fmt.Sprintf("%d %s", r.used, r.noun)
	}
	return fmt.Sprintf("%d/%d %s (%.1f%%)", r.used, r.limit, r.noun, r.percent())
}

// unjudgedText says why n arrays could not be judged, and what to do.
func unjudgedText(why sysvipc.Reason, n int) string {
	switch why {
	case sysvipc.ReasonUnreadable:
		return fmt.Sprintf("%d apache arrays unreadable as %s (semctl needs read permission: run as root, the arrays' owner, or with CAP_IPC_OWNER)", n, whoAmI())
	case sysvipc.ReasonNoDetail:
		return fmt.Sprintf("%d apache arrays have no semctl detail (a proc tree with no kernel behind it)", n)
	case sysvipc.ReasonOwnerUnverified:
		return fmt.Sprintf("%d apache arrays kept by a process whose executable is unreadable as %s (it may be php-fpm or a declared neighbour: run as root to tell)", n, whoAmI())
	case sysvipc.ReasonProcessesHidden:
		return fmt.Sprintf("%d apache arrays judged without the processes /proc hides from %s (hidepid: run as root, or in the group its gid= option names)", n, whoAmI())
	case sysvipc.ReasonRecordsUnreadable:
		return fmt.Sprintf("%d apache arrays a unit record may prove leaked, and the records are unreadable as %s (the hooks write the directory 0755 and the records 0644)", n, whoAmI())
	}
	return fmt.Sprintf("%d apache arrays not judged (%s)", n, why)
}

// perfdata is 'label'=value;warn;crit;min;max with percent resolved.
func (r resource) perfdata() string {
	if r.notMeasured() > 0 {
		return ""
	}
	max := ""
	if r.limit >= 0 {
		max = fmt.Sprint(r.limit)
	}
	return fmt.Sprintf("%s=%d;%s;%s;0;%s", r.label, r.used, r.warn, r.crit, max)
}

// evaluate builds the resources from the counts and judges each. stale is
// nil when the classifier did not run: then there is no stale resource,
// rather than a made-up zero.
func evaluate(o options, u sysvipc.Usage, l sysvipc.Limits, stale *int) []resource {
	mk := func(label, noun string, used, limit int64, t thresholds) resource {
		r := resource{label: label, noun: noun, used: used, limit: limit,
			warn: t.warn.Resolve(float64(limit)), crit: t.crit.Resolve(float64(limit))}
		r.state = nagrange.Status(float64(used), r.warn, r.crit)
		return r
	}
	// SEMMNI 0: no array can be made, Apache cannot start (0/0 is not OK).
	semArrays := mk("sem_arrays", "semaphore arrays", u.SemArrays, l.SEMMNI, o.arrays)
	if l.SEMMNI == 0 {
		semArrays.state = nagrange.Critical
	}
	rs := []resource{
		semArrays,
		mk("semaphores", "semaphores", u.Semaphores, l.SEMMNS, o.sems),
		mk("shm_segments", "shared memory segments", u.ShmSegments, l.SHMMNI, o.shm),
		mk("msg_queues", "message queues", u.MsgQueues, l.MSGMNI, o.queues),
	}
	if stale != nil {
		rs = append(rs, mk("stale_arrays", "stale apache arrays", int64(*stale), -1, o.stale))
	}
	return rs
}

// worst is the state of the check: the worst resource wins.
func worst(rs []resource) nagrange.State {
	s := nagrange.OK
	for _, r := range rs {
		s = nagrange.Worse(s, r.state)
	}
	return s
}

// headline orders what the first line names: every resource not OK, worst
// first; the semaphore arrays always (the limit Apache runs into); the
// stale count whenever it was taken.
func headline(rs []resource) []resource {
	var shown []resource
	for i, r := range rs {
		if r.state != nagrange.OK || i == 0 || r.label == "stale_arrays" {
			shown = append(shown, r)
		}
	}
	slices.SortStableFunc(shown, func(a, b resource) int { return int(b.state) - int(a.state) })
	return shown
}

// whoAmI names the user the check runs as, for the unmeasured message.
func whoAmI() string {
	uid := uint32(os.Getuid())
	return fmt.Sprintf("uid %d (%s)", uid, sysvipc.UserName(uid))
}
