package check

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// facts is everything the check read in one IPC namespace.
type facts struct {
	ns         sysvipc.Namespace
	usage      sysvipc.Usage
	limits     sysvipc.Limits
	assessment *sysvipc.Assessment // nil unless the classifier ran
	apacheUIDs map[uint32]string
}

// gather reads the counts in O(1) and, only when asked, classifies the
// arrays (which reads the table, the processes and semctl per candidate).
func gather(o options, now time.Time) ([]facts, error) {
	fs, err := sysvipc.NewDefaultFS()
	if err != nil {
		return nil, err
	}
	switch {
	case o.pid != 0:
		f, err := gatherPID(fs, o, o.pid, now)
		return []facts{f}, err
	case o.allNamespaces:
		return gatherAll(fs, o, now)
	}
	f, err := gatherIn(fs, o, now)
	return []facts{f}, err
}

// gatherPID reads the namespace of one process (--pid).
func gatherPID(fs sysvipc.FS, o options, pid int, now time.Time) (facts, error) {
	inode, err := fs.IPCNamespace(strconv.Itoa(pid))
	if err != nil {
		return facts{}, fmt.Errorf("--pid %d: %w", pid, err)
	}
	var f facts
	err = fs.InNamespace(pid, func(in sysvipc.FS) (err error) {
		f, err = gatherIn(in, o, now)
		return err
	})
	f.ns = sysvipc.Namespace{Inode: inode, PID: pid}
	return f, err
}

// gatherAll reads every IPC namespace, this one first; a namespace whose
// process exits meanwhile is skipped.
func gatherAll(fs sysvipc.FS, o options, now time.Time) ([]facts, error) {
	nss, err := fs.Namespaces()
	if err != nil {
		return nil, err
	}
	var all []facts
	for _, n := range nss {
		var f facts
		if n.Self {
			f, err = gatherIn(fs, o, now)
		} else {
			err = fs.InNamespace(n.PID, func(in sysvipc.FS) (err error) {
				f, err = gatherIn(in, o, now)
				return err
			})
		}
		if errors.Is(err, sysvipc.ErrNamespaceGone) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Label(), err)
		}
		f.ns = n
		all = append(all, f)
	}
	return all, nil
}

// gatherIn reads the namespace the FS reads.
func gatherIn(fs sysvipc.FS, o options, now time.Time) (facts, error) {
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
