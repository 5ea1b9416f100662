package remediate

import (
	"context"
	"math"
	"time"

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

func (c *grpcClient) Plan(p Policy) (Plan, error) {
	plan, err := c.client.Plan(context.Background(), policyToProto(p))
	if err != nil {
		return Plan{}, err
	}
	return planFromProto(plan), nil
}

func (c *grpcClient) Apply(p Plan) (Result, error) {
	r, err := c.client.Apply(context.Background(), planToProto(p))
	if err != nil {
		return Result{}, err
	}
	return resultFromProto(r), nil
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

func (s *grpcServer) Plan(_ context.Context, p *proto.Policy) (*proto.RemediationPlan, error) {
	plan, err := s.impl.Plan(policyFromProto(p))
	if err != nil {
		return nil, err
	}
	return planToProto(plan), nil
}

func (s *grpcServer) Apply(_ context.Context, p *proto.RemediationPlan) (*proto.Result, error) {
	r, err := s.impl.Apply(planFromProto(p))
	if err != nil {
		return nil, err
	}
	return resultToProto(r), nil
}

func policyToProto(p Policy) *proto.Policy {
	return &proto.Policy{
		// The host range-checks every number before it gets here (pids up
		// to PID_MAX_LIMIT, counts up to int32).
		ApacheUsers: p.ApacheUsers, MinAgeSeconds: ceilSeconds(p.MinAge), KillOrphans: p.KillOrphans,
		MaxRemovals: int32(p.MaxRemovals), OrphanGraceMillis: p.OrphanGrace.Milliseconds(), Pid: int32(p.PID),
	}
}

func policyFromProto(p *proto.Policy) Policy {
	return Policy{
		ApacheUsers: p.GetApacheUsers(), MinAge: secondsDuration(p.GetMinAgeSeconds()),
		KillOrphans: p.GetKillOrphans(), MaxRemovals: int(p.GetMaxRemovals()),
		OrphanGrace: time.Duration(p.GetOrphanGraceMillis()) * time.Millisecond, PID: int(p.GetPid()),
	}
}

func planToProto(p Plan) *proto.RemediationPlan {
	out := &proto.RemediationPlan{Policy: policyToProto(p.Policy), TakenUnixNano: p.Taken.UnixNano(), IpcNamespace: p.Namespace}
	for _, e := range p.Arrays {
		out.Arrays = append(out.Arrays, &proto.Evidence{
			Semid: e.SemID, Key: e.Key, Uid: e.UID, Owner: e.Owner, Nsems: e.NSems,
			Value: int32(e.Value), Ncnt: int32(e.NCnt), Zcnt: int32(e.ZCnt), LastPid: int32(e.LastPID),
			PidState: e.PIDState, Otime: e.OTime, Ctime: e.CTime, Verdict: e.Verdict, Reasons: e.Reasons,
		})
	}
	for _, o := range p.Orphans {
		out.Orphans = append(out.Orphans, &proto.Orphan{Pid: int32(o.PID), StartUnixNano: o.Start.UnixNano(), Uid: o.UID, Name: o.Name, StartTicks: o.StartTicks})
	}
	return out
}

func planFromProto(p *proto.RemediationPlan) Plan {
	out := Plan{Policy: policyFromProto(p.GetPolicy()), Taken: time.Unix(0, p.GetTakenUnixNano()), Namespace: p.GetIpcNamespace()}
	for _, e := range p.GetArrays() {
		out.Arrays = append(out.Arrays, Evidence{
			SemID: e.GetSemid(), Key: e.GetKey(), UID: e.GetUid(), Owner: e.GetOwner(), NSems: e.GetNsems(),
			Value: int(e.GetValue()), NCnt: int(e.GetNcnt()), ZCnt: int(e.GetZcnt()), LastPID: int(e.GetLastPid()),
			PIDState: e.GetPidState(), OTime: e.GetOtime(), CTime: e.GetCtime(), Verdict: e.GetVerdict(), Reasons: e.GetReasons(),
		})
	}
	for _, o := range p.GetOrphans() {
		out.Orphans = append(out.Orphans, Orphan{PID: int(o.GetPid()), Start: time.Unix(0, o.GetStartUnixNano()), UID: o.GetUid(), Name: o.GetName(), StartTicks: o.GetStartTicks()})
	}
	return out
}

func resultToProto(r Result) *proto.Result {
	out := &proto.Result{}
	for _, a := range r.Actions {
		out.Actions = append(out.Actions, &proto.Action{Semid: a.SemID, Outcome: a.Outcome, Why: a.Why, Errno: int32(a.Errno)})
	}
	for _, o := range r.Orphans {
		out.Orphans = append(out.Orphans, &proto.OrphanAction{Pid: int32(o.PID), Outcome: o.Outcome, Why: o.Why})
	}
	return out
}

func resultFromProto(r *proto.Result) Result {
	var out Result
	for _, a := range r.GetActions() {
		out.Actions = append(out.Actions, Action{SemID: a.GetSemid(), Outcome: a.GetOutcome(), Why: a.GetWhy(), Errno: int(a.GetErrno())})
	}
	for _, o := range r.GetOrphans() {
		out.Orphans = append(out.Orphans, OrphanAction{PID: int(o.GetPid()), Outcome: o.GetOutcome(), Why: o.GetWhy()})
	}
	return out
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
