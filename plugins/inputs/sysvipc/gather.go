//go:build linux

package sysvipc

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/telegraf"

	ipc "github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// Gather reports one snapshot. A missing /proc/sysvipc or an unreadable
// limit fails the gather (Telegraf logs it with E!), never silent zeros;
// an array whose detail cannot be read only makes that array unknown.
func (s *SysVIPC) Gather(acc telegraf.Accumulator) error {
	now := s.now()
	pol := s.policy.At(now)
	names := owners{}
	records := s.unitRecords()
	logs := ipc.NewEvidence(ipc.DefaultKernelLog) // the host's logs, read once a gather
	if s.Namespaces != "all" {
		return s.fs.Each(ipc.Scope{}, func(n ipc.Namespace, in ipc.FS) error {
			return s.gatherIn(in, acc, s.withRecords(pol, records, n), names, logs)
		})
	}
	return s.fs.Each(ipc.Scope{All: true}, func(n ipc.Namespace, in ipc.FS) error {
		pol := s.withRecords(pol, records, n)
		tags := map[string]string{"ipc_namespace": strconv.FormatUint(n.Inode, 10)}
		if n.ContainerID != "" {
			tags["container_id"] = n.ContainerID
		}
		// A namespace whose process exits before it is entered never
		// gets here: the core's walk skips it.
		if err := s.gatherIn(in, taggedAccumulator{Accumulator: acc, tags: tags}, pol, names, logs); err != nil {
			// One namespace failing must not hide the others.
			acc.AddError(fmt.Errorf("%s: %w", n.Label(), err))
		}
		return nil
	})
}

// unitRecords are the unit hooks' records as one gather reads them.
type unitRecords struct {
	records    map[string][]byte
	unreadable bool // some exist that this user may not read
}

// unitRecords reads the unit hooks' records, once per gather (each start
// writes its own); without a state directory there are none. Unusable
// ones are left out, with one warning: the rules that need no record
// then decide, as they do for root's handler. Records this user may not
// read leave the stale count unmeasured (ipc.ReasonRecordsUnreadable).
func (s *SysVIPC) unitRecords() unitRecords {
	if s.StateDir == "" || !s.collect["sem"] {
		return unitRecords{}
	}
	records, problems, err := ipc.ReadUnitRecords(s.StateDir)
	if err != nil {
		problems = append(problems, err.Error())
	}
	s.warnRecords(problems)
	return unitRecords{records: records, unreadable: errors.Is(err, ipc.ErrRecordsUnreadable)}
}

// withRecords is the policy judging namespace n by its starts' records.
func (s *SysVIPC) withRecords(pol ipc.Policy, r unitRecords, n ipc.Namespace) ipc.Policy {
	if r.records != nil || r.unreadable {
		pol.Records = ipc.NewNamespaceRecords(r.records, n.Inode)
		pol.Records.Unreadable = r.unreadable
		s.warnRecords(pol.Records.Problems)
	}
	return pol
}

func (s *SysVIPC) warnRecords(problems []string) {
	if len(problems) == 0 || s.warnedRecords || s.Log == nil {
		return
	}
	s.warnedRecords = true
	s.Log.Warnf("unit records not used (the arrays they name are judged without them): %s", strings.Join(problems, "; "))
}

// taggedAccumulator adds the namespace's tags to every metric.
type taggedAccumulator struct {
	telegraf.Accumulator
	tags map[string]string
}

func (a taggedAccumulator) AddFields(measurement string, fields map[string]any, tags map[string]string, t ...time.Time) {
	merged := make(map[string]string, len(tags)+len(a.tags))
	for k, v := range tags {
		merged[k] = v
	}
	for k, v := range a.tags {
		merged[k] = v
	}
	a.Accumulator.AddFields(measurement, fields, merged, t...)
}

// gatherIn reports the namespace the FS reads.
func (s *SysVIPC) gatherIn(fs ipc.FS, acc telegraf.Accumulator, pol ipc.Policy, names owners, logs *ipc.Evidence) error {
	snap, a, err := s.snapshot(fs, pol)
	if err != nil {
		return err
	}
	now := pol.Now
	if s.collect["sem"] {
		s.gatherSem(acc, snap, a, names, now)
		if a.Tally.Unjudged() == 0 {
			gatherLeaks(acc, fs, a, pol, now, logs)
		}
	}
	if s.collect["shm"] {
		gatherShm(acc, snap, names, now)
	}
	if s.collect["msg"] {
		gatherMsg(acc, snap, names, now)
	}
	return nil
}

// snapshot reads the namespace and judges its arrays: as they are listed,
// keeping only counts, unless the arrays themselves are to be reported.
func (s *SysVIPC) snapshot(fs ipc.FS, pol ipc.Policy) (ipc.Snapshot, ipc.Assessment, error) {
	switch {
	case !s.collect["sem"]:
		snap, err := fs.Snapshot()
		return snap, ipc.Assessment{}, err
	case !s.IncludeArrays:
		return fs.SnapshotCounts(pol)
	}
	snap, err := fs.Snapshot()
	if err != nil {
		return ipc.Snapshot{}, ipc.Assessment{}, err
	}
	a, err := fs.Assess(snap.Sem, fs.Prober(), pol)
	return snap, a, err
}

func (s *SysVIPC) gatherSem(acc telegraf.Accumulator, snap ipc.Snapshot, a ipc.Assessment, names owners, now time.Time) {
	l := snap.Limits
	var semaphores int64
	type ownerSem struct{ objects, semaphores int64 }
	per := map[uint32]*ownerSem{}
	for _, r := range snap.Sem {
		o := per[r.UID]
		if o == nil {
			o = &ownerSem{}
			per[r.UID] = o
		}
		o.objects++
		o.semaphores += int64(r.NSems)
		semaphores += int64(r.NSems)
	}
	unjudged := int64(a.Tally.Unjudged())
	arrays := int64(len(snap.Sem))
	pct := 0.0
	if l.SEMMNI > 0 {
		pct = 100 * float64(arrays) / float64(l.SEMMNI)
	}
	fields := map[string]any{
		"arrays": arrays, "arrays_max": l.SEMMNI,
		"semaphores": semaphores, "semaphores_max": l.SEMMNS,
		"semmsl": l.SEMMSL, "semopm": l.SEMOPM, "semvmx": l.SEMVMX,
		"arrays_used_percent": pct,
		"unjudged_arrays":     unjudged,
	}
	// A stale count over arrays it could not read would be a number never
	// measured: the field is left out, and unjudged_arrays says why.
	if unjudged == 0 {
		fields["stale_arrays"] = int64(a.Tally.Stale)
	} else {
		s.warnUnjudged(a.Tally)
	}
	acc.AddFields("sysvipc_sem", fields, nil, now)
	for uid, o := range per {
		f := map[string]any{"objects": o.objects, "semaphores": o.semaphores}
		if own := a.Tally.Owners[uid]; own.Unjudged == 0 {
			f["stale_arrays"] = int64(own.Stale)
		}
		acc.AddFields("sysvipc_owner", f, map[string]string{"kind": "sem", "owner": names.name(uid)}, now)
	}
	if !s.IncludeArrays {
		return
	}
	if len(a.Arrays) > s.MaxArrays {
		s.Log.Warnf("%d semaphore arrays, reporting the first %d as sysvipc_sem_array (max_arrays)", len(a.Arrays), s.MaxArrays)
	}
	for _, c := range a.Arrays[:min(len(a.Arrays), s.MaxArrays)] {
		last := time.Unix(max(c.Array.OTime, c.Array.CTime), 0)
		acc.AddFields("sysvipc_sem_array", map[string]any{
			"nsems": int64(c.Array.NSems), "otime": c.Array.OTime, "ctime": c.Array.CTime,
			"age_seconds": int64(now.Sub(last) / time.Second),
		}, map[string]string{
			"id": strconv.Itoa(int(c.Array.SemID)), "key": fmt.Sprintf("0x%08x", uint32(c.Array.Key)),
			"owner": names.name(c.Array.UID), "verdict": string(c.Verdict),
		}, now)
	}
}

// warnUnjudged logs once per process, not on every gather, that stale
// counts are left out and how to get them.
func (s *SysVIPC) warnUnjudged(t ipc.Tally) {
	if s.warnedUnjudged {
		return
	}
	s.warnedUnjudged = true
	if n := t.UnknownWhy[ipc.ReasonUnreadable]; n > 0 {
		s.Log.Warnf("stale_arrays left out: %d apache arrays could not be judged as uid %d (semctl needs read permission: run as root, the arrays' owner, or with CAP_IPC_OWNER); unjudged_arrays counts them", n, os.Getuid())
	}
	if n := t.UnknownWhy[ipc.ReasonOwnerUnverified]; n > 0 {
		s.Log.Warnf("stale_arrays left out: %d apache arrays are kept by a process of their owner whose executable is unreadable as uid %d, so it cannot be told apart from php-fpm or a declared neighbour (run as root to tell); unjudged_arrays counts them", n, os.Getuid())
	}
	if n := t.UnknownWhy[ipc.ReasonNoDetail]; n > 0 {
		s.Log.Warnf("stale_arrays left out: %d apache arrays could not be judged: HOST_PROC is not a live procfs, and semctl detail needs the kernel the files came from; unjudged_arrays counts them", n)
	}
	if n := t.UnknownWhy[ipc.ReasonProcessesHidden]; n > 0 {
		s.Log.Warnf("stale_arrays left out: %d apache arrays were judged without the processes /proc hides from uid %d (hidepid: run as root, or in the group its gid= option names); unjudged_arrays counts them", n, os.Getuid())
	}
	if n := t.UnknownWhy[ipc.ReasonRecordsUnreadable]; n > 0 {
		s.Log.Warnf("stale_arrays left out: %d apache arrays may be proven leaked by unit records that uid %d cannot read (%s: the hooks write it 0755 and the records 0644); unjudged_arrays counts them", n, os.Getuid(), s.StateDir)
	}
}

func gatherShm(acc telegraf.Accumulator, snap ipc.Snapshot, names owners, now time.Time) {
	var bytes, rss, swap, unattached int64
	per := map[uint32]int64{}
	for _, s := range snap.Shm {
		bytes += clampInt64(s.Size)
		rss += clampInt64(s.RSS)
		swap += clampInt64(s.Swap)
		if s.NAttch == 0 {
			unattached++
		}
		per[s.UID]++
	}
	l := snap.Limits
	acc.AddFields("sysvipc_shm", map[string]any{
		"segments": int64(len(snap.Shm)), "segments_max": l.SHMMNI,
		"bytes": bytes, "bytes_max": mulClamp(l.SHMALL, uint64(os.Getpagesize())),
		"segment_bytes_max": clampInt64(l.SHMMAX),
		"rss_bytes":         rss, "swap_bytes": swap, "unattached_segments": unattached,
	}, nil, now)
	for uid, n := range per {
		acc.AddFields("sysvipc_owner", map[string]any{"objects": n},
			map[string]string{"kind": "shm", "owner": names.name(uid)}, now)
	}
}

func gatherMsg(acc telegraf.Accumulator, snap ipc.Snapshot, names owners, now time.Time) {
	var messages, bytes int64
	per := map[uint32]int64{}
	for _, q := range snap.Msg {
		messages += clampInt64(q.QNum)
		bytes += clampInt64(q.CBytes)
		per[q.UID]++
	}
	l := snap.Limits
	acc.AddFields("sysvipc_msg", map[string]any{
		"queues": int64(len(snap.Msg)), "queues_max": l.MSGMNI,
		"messages": messages, "bytes": bytes, "msgmax": l.MSGMAX, "msgmnb": l.MSGMNB,
	}, nil, now)
	for uid, n := range per {
		acc.AddFields("sysvipc_owner", map[string]any{"objects": n},
			map[string]string{"kind": "msg", "owner": names.name(uid)}, now)
	}
}

// owners caches uid -> name for one gather: os/user reads /etc/passwd on
// every lookup.
type owners map[uint32]string

func (o owners) name(uid uint32) string {
	if n, ok := o[uid]; ok {
		return n
	}
	n := ipc.UserName(uid)
	o[uid] = n
	return n
}

// clampInt64 keeps a kernel's unsigned value in Telegraf's int64 fields:
// SHMMAX and SHMALL default to nearly 2^64 ("no limit").
func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

func mulClamp(a, b uint64) int64 {
	if b != 0 && a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return int64(a * b)
}

// gatherLeaks reports the leaked generations by cause, one metric per
// cause that has any: a series per cause, never one per pid. Only where
// the stale count was measured and is not 0; the causes need the kernel
// log, which only root reads, so as Telegraf's user they are unknown.
func gatherLeaks(acc telegraf.Accumulator, fs ipc.FS, a ipc.Assessment, pol ipc.Policy, now time.Time, logs *ipc.Evidence) {
	gens, err := fs.AssessmentForensics(a, pol, logs)
	if err != nil {
		acc.AddError(fmt.Errorf("leak forensics: %w", err))
		return
	}
	if len(gens) == 0 {
		return
	}
	for cause, n := range ipc.CountByCause(gens) {
		if n == 0 {
			continue
		}
		acc.AddFields("sysvipc_leak", map[string]any{"generations": int64(n)}, map[string]string{"cause": string(cause)}, now)
	}
}
