package check

import (
	"errors"
	"fmt"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// facts is everything the check read in one IPC namespace.
type facts struct {
	ns         sysvipc.Namespace
	usage      sysvipc.Usage
	limits     sysvipc.Limits
	assessment *sysvipc.Assessment // nil unless the classifier ran
	policy     sysvipc.Policy      // the classifier's, when it ran
	kept       []sysvipc.Kept      // the processes that kept arrays, when it ran
	// recordProblems are unit records, or a state directory, not used.
	recordProblems []string
	// generations are the stale arrays by the start that made them, with
	// how each one's Apache died (at -v, when some are stale).
	generations []sysvipc.Generation
}

// gather reads the counts in O(1) and, only when asked, classifies the
// arrays (which reads the table, the processes and semctl per candidate),
// in each namespace of the scope.
func gather(o options, open func() (sysvipc.FS, error), now time.Time) ([]facts, error) {
	fs, err := open()
	if err != nil {
		return nil, err
	}
	// The unit hooks' records, read once for every namespace (each
	// judges by the starts recorded in it). A state directory that cannot
	// be trusted is no record: the rules that need none decide, and -v
	// says why.
	var records map[string][]byte
	var problems []string
	unreadable := false
	if o.needStale() && o.stateDir != "" {
		var err error
		if records, problems, err = sysvipc.ReadUnitRecords(o.stateDir); err != nil {
			unreadable = errors.Is(err, sysvipc.ErrRecordsUnreadable)
			problems = append(problems, err.Error())
		}
	}
	var all []facts
	logs := sysvipc.NewEvidence(sysvipc.DefaultKernelLog) // read once for every namespace
	err = fs.Each(sysvipc.Scope{PID: o.pid, All: o.allNamespaces}, func(n sysvipc.Namespace, in sysvipc.FS) error {
		nsRecords := sysvipc.NewNamespaceRecords(records, n.Inode)
		nsRecords.Unreadable = unreadable
		f, err := gatherIn(in, o, now, nsRecords, logs)
		f.ns = n
		f.recordProblems = problems
		all = append(all, f)
		return err
	})
	if err != nil && o.pid != 0 {
		return nil, fmt.Errorf("--%w", err)
	}
	return all, err
}

// gatherIn reads the namespace the FS reads.
func gatherIn(fs sysvipc.FS, o options, now time.Time, nsRecords *sysvipc.NamespaceRecords, logs *sysvipc.Evidence) (facts, error) {
	if err := fs.Available(); err != nil {
		return facts{}, err
	}
	var f facts
	var err error
	if f.limits, err = fs.Limits(); err != nil {
		return facts{}, err
	}
	if f.usage, err = fs.Usage(); err != nil {
		return facts{}, err
	}
	if !o.needStale() {
		return f, nil
	}
	f.policy = *o.policy
	pol := o.policy.At(now)
	pol.Records = nsRecords
	var a sysvipc.Assessment
	if o.verbose >= 2 {
		a, err = assessAll(fs, pol)
	} else {
		// Only -vv and -vvv list arrays; below that the counts are all
		// the output uses.
		a, err = fs.AssessLiveCounts(pol)
	}
	if err != nil {
		return facts{}, err
	}
	f.assessment = &a
	if o.verbose >= 1 {
		f.kept = fs.KeptBy(a.Tally, a.Census)
		f.generations, _ = fs.AssessmentForensics(a, pol, logs) // -v's extra: no causes rather than no check
	}
	f.recordProblems = append(f.recordProblems, nsRecords.Problems...)
	return f, nil
}

func assessAll(fs sysvipc.FS, pol sysvipc.Policy) (sysvipc.Assessment, error) {
	arrays, err := fs.LiveSemArrays()
	if err != nil {
		return sysvipc.Assessment{}, err
	}
	return fs.Assess(arrays, fs.Prober(), pol)
}
