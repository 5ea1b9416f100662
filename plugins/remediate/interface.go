package remediate

import (
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// Remediator is what a remediation plugin does. The plugin owns the whole
// protocol; the host gates, checks trust, calls Remediate once, audits the
// report and prints it.
type Remediator interface {
	// Describe names the plugin, its version and capabilities.
	Describe() (Description, error)
	// Remediate judges every array and, unless the request is a dry run,
	// kills certain orphans (with KillOrphans), judges again, and removes
	// what is stale, re-judging each array right before its removal.
	Remediate(Request) (Report, error)
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
	// Neighbours are executables whose processes never use an array they
	// did not make: root's policy file declares them, never a caller
	// through sudo.
	Neighbours []string
}

// Request is one call of the handler.
type Request struct {
	Policy Policy
	DryRun bool // plan only
	// Hook is set when a systemd unit's start hooks call: the plugin
	// records what Unit's start made (AfterStart, with the unit's
	// MainPID), or removes what a dead start of Unit left (BeforeStart).
	Hook    Hook
	Unit    string
	MainPID int
	// Records are every unit's witness record as the host keeps them,
	// in the plugin's own encoding: the host stores, the plugin reads.
	Records map[string][]byte
}

// Hook is which start hook of a unit calls, if any.
type Hook string

// The hooks.
const (
	NoHook      Hook = ""
	BeforeStart Hook = "before-start"
	AfterStart  Hook = "after-start"
)

// ReasonAfterOrphans marks an array that would be stale once the orphaned
// workers that may use it are gone. It is never removed on that plan's
// word: after killing them the plugin judges it afresh.
const ReasonAfterOrphans sysvipc.Reason = "after_killing_orphans"

// Evidence is one candidate array as the plugin saw it.
type Evidence struct {
	SemID    int32            `json:"semid"`
	Key      int32            `json:"key"`
	UID      uint32           `json:"uid"`
	Owner    string           `json:"owner"`
	NSems    uint64           `json:"nsems"`
	Value    int              `json:"value"`
	NCnt     int              `json:"ncnt"`
	ZCnt     int              `json:"zcnt"`
	LastPID  int              `json:"last_pid"`
	PIDState sysvipc.PIDState `json:"pid_state"`
	OTime    int64            `json:"otime"`
	CTime    int64            `json:"ctime"`
	Verdict  sysvipc.Verdict  `json:"verdict"`
	Reasons  []sysvipc.Reason `json:"reasons"`
	Round    int              `json:"round"` // 1, or 2 when judged again after killing orphans
	// BlockerPID is the process that kept it from being stale (0: none).
	BlockerPID int `json:"blocker_pid,omitempty"`
	// Matures: kept for its age alone, and stale were it older
	// (sysvipc.Classification.Matures).
	Matures bool `json:"matures,omitempty"`
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

// Outcome is what became of one array or orphan.
type Outcome string

// The outcomes.
const (
	Removed Outcome = "removed"
	Skipped Outcome = "skipped"
	Failed  Outcome = "failed"
	Killed  Outcome = "killed"
	Gone    Outcome = "gone"
)

// Action is what the plugin did to one array.
type Action struct {
	SemID   int32   `json:"semid"`
	Outcome Outcome `json:"outcome"`
	Why     string  `json:"why,omitempty"`
	Errno   int     `json:"errno,omitempty"`
}

// OrphanAction is what the plugin did to one orphaned worker.
type OrphanAction struct {
	PID     int     `json:"pid"`
	Outcome Outcome `json:"outcome"`
	Why     string  `json:"why,omitempty"`
}

// Report is the answer to one Remediate call.
type Report struct {
	Namespace     uint64         // inode of the IPC namespace acted in
	ArraysBefore  int64          // SEM_INFO's count; -1 when the kernel could not say
	ArraysAfter   int64          // the same after the removals
	Rounds        int            // 2 when orphans were killed and the arrays judged again
	Evidence      []Evidence     // every round's
	Orphans       []Orphan       // the certain orphans found
	Actions       []Action       // each array's last action
	OrphanActions []OrphanAction // what became of the orphans
	DryRun        bool
	// Record is a hook's unit's new record, for the host to keep (nil
	// without a hook); Note says in one line what the hook did.
	Record []byte
	Note   string
	// Kept are the first judgement's blockers: each process that kept
	// arrays from being stale, for one reason, most arrays first.
	Kept []sysvipc.Kept
}

// Count counts the actions with the outcome.
func (r Report) Count(o Outcome) int {
	n := 0
	for _, a := range r.Actions {
		if a.Outcome == o {
			n++
		}
	}
	return n
}

// FirstRound is the first judgement: what a dry run shows.
func (r Report) FirstRound() []Evidence {
	var out []Evidence
	for _, e := range r.Evidence {
		if e.Round <= 1 {
			out = append(out, e)
		}
	}
	return out
}

// Stale counts the stale verdicts of the first round.
func (r Report) Stale() int {
	n := 0
	for _, e := range r.FirstRound() {
		if e.Verdict == sysvipc.Stale {
			n++
		}
	}
	return n
}
