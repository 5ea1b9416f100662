package remediate

import "time"

// Remediator is what a remediation plugin does.
type Remediator interface {
	// Describe names the plugin, its version and capabilities.
	Describe() (Description, error)
	// Plan is read-only: the candidate arrays with evidence and verdict,
	// and the orphaned workers found.
	Plan(Policy) (Plan, error)
	// Apply carries out a plan: it removes only arrays the plan calls
	// stale, after re-reading each one, and reports per array.
	Apply(Plan) (Result, error)
}

// Description names a plugin.
type Description struct {
	Name         string
	Version      string
	Capabilities []string
}

// Policy is what the operator allows.
type Policy struct {
	ApacheUsers []string
	MinAge      time.Duration
	KillOrphans bool          // SIGTERM, then SIGKILL, orphaned Apache workers
	MaxRemovals int           // 0: no limit
	OrphanGrace time.Duration // between SIGTERM and SIGKILL
	PID         int           // act in this process's IPC namespace (a container's); 0: the plugin's own
}

// Evidence is one candidate array as the plugin saw it.
type Evidence struct {
	SemID    int32    `json:"semid"`
	Key      int32    `json:"key"`
	UID      uint32   `json:"uid"`
	Owner    string   `json:"owner"`
	NSems    uint64   `json:"nsems"`
	Value    int      `json:"value"`
	NCnt     int      `json:"ncnt"`
	ZCnt     int      `json:"zcnt"`
	LastPID  int      `json:"last_pid"`
	PIDState string   `json:"pid_state"`
	OTime    int64    `json:"otime"`
	CTime    int64    `json:"ctime"`
	Verdict  string   `json:"verdict"`
	Reasons  []string `json:"reasons"`
}

// Orphan is an Apache worker whose master died.
type Orphan struct {
	PID   int       `json:"pid"`
	Start time.Time `json:"start"`
	UID   uint32    `json:"uid"`
	Name  string    `json:"name"`
	// StartTicks is the identity checked before each signal: clock ticks
	// since boot do not move when the wall clock is stepped.
	StartTicks uint64 `json:"start_ticks"`
}

// Plan is a Plan call's answer, and what Apply carries out.
type Plan struct {
	Policy  Policy     `json:"-"`
	Arrays  []Evidence `json:"arrays"`
	Orphans []Orphan   `json:"orphans"`
	Taken   time.Time  `json:"taken"`
	// Namespace is the inode of the IPC namespace planned in; Apply acts
	// only in the same one.
	Namespace uint64 `json:"ipc_namespace"`
}

// Stale counts the arrays the plan would remove.
func (p Plan) Stale() int {
	n := 0
	for _, e := range p.Arrays {
		if e.Verdict == "stale" {
			n++
		}
	}
	return n
}

// The outcomes of Apply.
const (
	Removed = "removed"
	Skipped = "skipped"
	Failed  = "failed"
	Killed  = "killed"
	Gone    = "gone"
)

// Action is what Apply did to one array.
type Action struct {
	SemID   int32  `json:"semid"`
	Outcome string `json:"outcome"`
	Why     string `json:"why,omitempty"`
	Errno   int    `json:"errno,omitempty"`
}

// OrphanAction is what Apply did to one orphaned worker.
type OrphanAction struct {
	PID     int    `json:"pid"`
	Outcome string `json:"outcome"`
	Why     string `json:"why,omitempty"`
}

// Result is an Apply call's answer.
type Result struct {
	Actions []Action       `json:"actions"`
	Orphans []OrphanAction `json:"orphans"`
}

// Count counts actions with the outcome.
func (r Result) Count(outcome string) int {
	n := 0
	for _, a := range r.Actions {
		if a.Outcome == outcome {
			n++
		}
	}
	return n
}
