package check

import (
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// facts is everything the check read.
type facts struct {
	usage      sysvipc.Usage
	limits     sysvipc.Limits
	assessment *sysvipc.Assessment // nil unless the classifier ran
	apacheUIDs map[uint32]string
}

// gather reads the counts in O(1) and, only when asked, classifies the
// arrays (which reads the table, the processes and semctl per candidate).
func gather(o options, now time.Time) (facts, error) {
	fs, err := sysvipc.NewDefaultFS()
	if err != nil {
		return facts{}, err
	}
	if err := fs.Available(); err != nil {
		return facts{}, err
	}
	var f facts
	if f.limits, err = fs.Limits(); err != nil {
		return facts{}, err
	}
	if f.usage, err = fs.Usage(); err != nil {
		return facts{}, err
	}
	if !o.needStale() {
		return f, nil
	}
	if f.apacheUIDs, err = sysvipc.LookupUsers(o.apacheUsers, o.apacheUsersGiven); err != nil {
		return facts{}, err
	}
	arrays, err := fs.LiveSemArrays()
	if err != nil {
		return facts{}, err
	}
	pol := sysvipc.Policy{ApacheUIDs: sysvipc.UIDSet(f.apacheUIDs), MinAge: o.minAge, Now: now}
	a, err := fs.Assess(arrays, fs.Prober(), pol)
	if err != nil {
		return facts{}, err
	}
	f.assessment = &a
	return f, nil
}
