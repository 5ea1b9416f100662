package remediate

import (
	"context"
	"math"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate/proto"
)

// grpcClient is the host's Remediator: each call is one RPC.
type grpcClient struct{ client proto.RemediatorClient }

func (c *grpcClient) Describe() (Description, error) {
	d, err := c.client.Describe(context.Background(), &proto.DescribeRequest{})
	if err != nil {
		return Description{}, err
	}
	return Description{Name: d.GetName(), Version: d.GetVersion(), Capabilities: d.GetCapabilities()}, nil
}

func (c *grpcClient) Remediate(req Request) (Report, error) {
	r, err := c.client.Remediate(context.Background(), &proto.Request{
		Policy: policyToProto(req.Policy), DryRun: req.DryRun,
		Hook: hooks.toProto(req.Hook), Unit: req.Unit, MainPid: int32(req.MainPID), Records: req.Records,
	})
	if err != nil {
		return Report{}, err
	}
	return reportFromProto(r), nil
}

// grpcServer runs on the plugin side and calls the implementation.
type grpcServer struct {
	proto.UnimplementedRemediatorServer
	impl Remediator
}

func (s *grpcServer) Describe(context.Context, *proto.DescribeRequest) (*proto.Description, error) {
	d, err := s.impl.Describe()
	if err != nil {
		return nil, err
	}
	return &proto.Description{Name: d.Name, Version: d.Version, Capabilities: d.Capabilities}, nil
}

func (s *grpcServer) Remediate(_ context.Context, req *proto.Request) (*proto.Report, error) {
	r, err := s.impl.Remediate(Request{
		Policy: policyFromProto(req.GetPolicy()), DryRun: req.GetDryRun(),
		Hook: hooks.fromProto(req.GetHook()), Unit: req.GetUnit(), MainPID: int(req.GetMainPid()), Records: req.GetRecords(),
	})
	if err != nil {
		return nil, err
	}
	return reportToProto(r), nil
}

func policyToProto(p Policy) *proto.Policy {
	return &proto.Policy{
		// The host range-checks every number before it gets here (pids up
		// to PID_MAX_LIMIT, counts up to int32).
		ApacheUsers: p.ApacheUsers, MinAgeSeconds: ceilSeconds(p.MinAge), KillOrphans: p.KillOrphans,
		MaxRemovals: int32(p.MaxRemovals), OrphanGraceMillis: p.OrphanGrace.Milliseconds(), Pid: int32(p.PID),
		Neighbours: p.Neighbours,
	}
}

func policyFromProto(p *proto.Policy) Policy {
	return Policy{
		ApacheUsers: p.GetApacheUsers(), MinAge: secondsDuration(p.GetMinAgeSeconds()),
		KillOrphans: p.GetKillOrphans(), MaxRemovals: int(p.GetMaxRemovals()),
		OrphanGrace: time.Duration(p.GetOrphanGraceMillis()) * time.Millisecond, PID: int(p.GetPid()),
		Neighbours: p.GetNeighbours(),
	}
}

func reportToProto(r Report) *proto.Report {
	out := &proto.Report{
		IpcNamespace: r.Namespace, ArraysBefore: r.ArraysBefore, ArraysAfter: r.ArraysAfter,
		Rounds: int32(r.Rounds), DryRun: r.DryRun, Record: r.Record, Note: r.Note,
	}
	for _, e := range r.Evidence {
		pe := &proto.Evidence{
			Semid: e.SemID, Key: e.Key, Uid: e.UID, Owner: e.Owner, Nsems: e.NSems,
			Value: int32(e.Value), Ncnt: int32(e.NCnt), Zcnt: int32(e.ZCnt), LastPid: int32(e.LastPID),
			PidState: pidStates.toProto(e.PIDState), Otime: e.OTime, Ctime: e.CTime,
			Verdict: verdicts.toProto(e.Verdict), Round: int32(e.Round), BlockerPid: int32(e.BlockerPID), Matures: e.Matures,
		}
		for _, reason := range e.Reasons {
			pe.Reasons = append(pe.Reasons, reasons.toProto(reason))
		}
		out.Evidence = append(out.Evidence, pe)
	}
	for _, k := range r.Kept {
		out.Kept = append(out.Kept, &proto.Kept{
			Reason: reasons.toProto(k.Reason), Arrays: int32(k.Arrays), Pid: int32(k.By.PID), Uid: k.By.UID, User: k.By.User,
			Exe: k.By.Exe, StartUnixNano: k.By.Start.UnixNano(), Cmdline: k.By.Cmdline,
		})
	}
	for _, o := range r.Orphans {
		out.Orphans = append(out.Orphans, &proto.Orphan{Pid: int32(o.PID), StartUnixNano: o.Start.UnixNano(), Uid: o.UID, Name: o.Name, StartTicks: o.StartTicks})
	}
	for _, a := range r.Actions {
		out.Actions = append(out.Actions, &proto.Action{Semid: a.SemID, Outcome: outcomes.toProto(a.Outcome), Why: a.Why, Errno: int32(a.Errno)})
	}
	for _, o := range r.OrphanActions {
		out.OrphanActions = append(out.OrphanActions, &proto.OrphanAction{Pid: int32(o.PID), Outcome: outcomes.toProto(o.Outcome), Why: o.Why})
	}
	return out
}

func reportFromProto(r *proto.Report) Report {
	out := Report{
		Namespace: r.GetIpcNamespace(), ArraysBefore: r.GetArraysBefore(), ArraysAfter: r.GetArraysAfter(),
		Rounds: int(r.GetRounds()), DryRun: r.GetDryRun(), Record: r.GetRecord(), Note: r.GetNote(),
	}
	for _, e := range r.GetEvidence() {
		ev := Evidence{
			SemID: e.GetSemid(), Key: e.GetKey(), UID: e.GetUid(), Owner: e.GetOwner(), NSems: e.GetNsems(),
			Value: int(e.GetValue()), NCnt: int(e.GetNcnt()), ZCnt: int(e.GetZcnt()), LastPID: int(e.GetLastPid()),
			PIDState: pidStates.fromProto(e.GetPidState()), OTime: e.GetOtime(), CTime: e.GetCtime(),
			Verdict: verdicts.fromProto(e.GetVerdict()), Round: int(e.GetRound()), BlockerPID: int(e.GetBlockerPid()), Matures: e.GetMatures(),
		}
		for _, reason := range e.GetReasons() {
			ev.Reasons = append(ev.Reasons, reasons.fromProto(reason))
		}
		out.Evidence = append(out.Evidence, ev)
	}
	for _, k := range r.GetKept() {
		out.Kept = append(out.Kept, sysvipc.Kept{Reason: reasons.fromProto(k.GetReason()), Arrays: int(k.GetArrays()), By: sysvipc.ProcessInfo{
			PID: int(k.GetPid()), UID: k.GetUid(), User: k.GetUser(), Exe: k.GetExe(), Start: time.Unix(0, k.GetStartUnixNano()), Cmdline: k.GetCmdline(),
		}})
	}
	for _, o := range r.GetOrphans() {
		out.Orphans = append(out.Orphans, Orphan{PID: int(o.GetPid()), Start: time.Unix(0, o.GetStartUnixNano()), UID: o.GetUid(), Name: o.GetName(), StartTicks: o.GetStartTicks()})
	}
	for _, a := range r.GetActions() {
		out.Actions = append(out.Actions, Action{SemID: a.GetSemid(), Outcome: outcomes.fromProto(a.GetOutcome()), Why: a.GetWhy(), Errno: int(a.GetErrno())})
	}
	for _, o := range r.GetOrphanActions() {
		out.OrphanActions = append(out.OrphanActions, OrphanAction{PID: int(o.GetPid()), Outcome: outcomes.fromProto(o.GetOutcome()), Why: o.GetWhy()})
	}
	return out
}

// enumMap is one Go enum and its proto enum, both ways. A value missing
// from the table crosses as the zero value ("unspecified" on the far
// side), which no rule treats as stale or removed.
type enumMap[G comparable, P comparable] map[G]P

func (m enumMap[G, P]) toProto(g G) P {
	return m[g]
}

func (m enumMap[G, P]) fromProto(p P) G {
	for g, q := range m {
		if q == p {
			return g
		}
	}
	var zero G
	return zero
}

var hooks = enumMap[Hook, proto.Hook]{
	NoHook: proto.Hook_HOOK_NONE, BeforeStart: proto.Hook_HOOK_BEFORE_START, AfterStart: proto.Hook_HOOK_AFTER_START,
}

var verdicts = enumMap[sysvipc.Verdict, proto.Verdict]{
	sysvipc.Live: proto.Verdict_VERDICT_LIVE, sysvipc.Stale: proto.Verdict_VERDICT_STALE, sysvipc.Unknown: proto.Verdict_VERDICT_UNKNOWN,
}

var pidStates = enumMap[sysvipc.PIDState, proto.PIDState]{
	sysvipc.PIDAlive: proto.PIDState_PID_STATE_ALIVE, sysvipc.PIDDead: proto.PIDState_PID_STATE_DEAD, sysvipc.PIDUnknown: proto.PIDState_PID_STATE_UNKNOWN,
}

var outcomes = enumMap[Outcome, proto.Outcome]{
	Removed: proto.Outcome_OUTCOME_REMOVED, Skipped: proto.Outcome_OUTCOME_SKIPPED, Failed: proto.Outcome_OUTCOME_FAILED,
	Killed: proto.Outcome_OUTCOME_KILLED, Gone: proto.Outcome_OUTCOME_GONE,
}

var reasons = enumMap[sysvipc.Reason, proto.Reason]{
	sysvipc.ReasonKeyed:             proto.Reason_REASON_KEYED,
	sysvipc.ReasonNotApacheUser:     proto.Reason_REASON_NOT_APACHE_USER,
	sysvipc.ReasonNotSingle:         proto.Reason_REASON_NOT_SINGLE_SEMAPHORE,
	sysvipc.ReasonUnreadable:        proto.Reason_REASON_DETAIL_UNREADABLE,
	sysvipc.ReasonNoDetail:          proto.Reason_REASON_DETAIL_UNAVAILABLE,
	sysvipc.ReasonGone:              proto.Reason_REASON_GONE,
	sysvipc.ReasonWaiters:           proto.Reason_REASON_WAITERS,
	sysvipc.ReasonHeld:              proto.Reason_REASON_HELD,
	sysvipc.ReasonTooYoung:          proto.Reason_REASON_YOUNGER_THAN_MIN_AGE,
	sysvipc.ReasonLastPIDAlive:      proto.Reason_REASON_LAST_PID_ALIVE,
	sysvipc.ReasonLastPIDUnknown:    proto.Reason_REASON_LAST_PID_UNKNOWN,
	sysvipc.ReasonAfterMasterStart:  proto.Reason_REASON_CHANGED_AFTER_MASTER_START,
	sysvipc.ReasonMasterMayOwn:      proto.Reason_REASON_MASTER_MAY_OWN,
	sysvipc.ReasonOrphanAlive:       proto.Reason_REASON_ORPHAN_WORKER_MAY_USE,
	sysvipc.ReasonOwnerAlive:        proto.Reason_REASON_OWNER_PROCESS_ALIVE,
	sysvipc.ReasonNoApache:          proto.Reason_REASON_NO_APACHE_RUNNING,
	sysvipc.ReasonLastPIDDead:       proto.Reason_REASON_LAST_PID_DEAD,
	ReasonAfterOrphans:              proto.Reason_REASON_AFTER_KILLING_ORPHANS,
	sysvipc.ReasonWitnessedLive:     proto.Reason_REASON_WITNESSED_MASTER_ALIVE,
	sysvipc.ReasonWitnessedLeak:     proto.Reason_REASON_WITNESSED_LEAK,
	sysvipc.ReasonOwnerUnverified:   proto.Reason_REASON_OWNER_EXE_UNREADABLE,
	sysvipc.ReasonProcessesHidden:   proto.Reason_REASON_PROCESSES_HIDDEN,
	sysvipc.ReasonRecordsUnreadable: proto.Reason_REASON_UNIT_RECORDS_UNREADABLE,
}

// ceilSeconds rounds up, without overflowing: a shorter minimum age than
// asked would be less safe.
func ceilSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return s
}

// secondsDuration converts without wrapping: past the largest Duration it
// saturates (a longer minimum age is only safer), and any negative number
// stays negative, for the remediator to refuse.
func secondsDuration(s int64) time.Duration {
	switch {
	case s < 0:
		return -1
	case s > int64(math.MaxInt64/time.Second):
		return math.MaxInt64
	}
	return time.Duration(s) * time.Second
}
