package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// record is one audit line: everything needed to answer "why did it
// remove that array?" a month later, in a bounded size whatever the
// number of arrays: the summary counts every array, by verdict, reason
// and blocker, and names what was removed as ranges of semids; evidence
// and actions list the first maxAuditItems arrays in full.
type record struct {
	Time         time.Time                `json:"time"`
	Host         string                   `json:"host"`
	Caller       string                   `json:"caller"` // who ran it: the sudo user, else the uid
	Trigger      trigger                  `json:"trigger"`
	Policy       policyRecord             `json:"policy"`
	DryRun       bool                     `json:"dry_run"`
	Plugin       string                   `json:"plugin,omitempty"`
	Namespace    uint64                   `json:"ipc_namespace,omitempty"`
	ArraysBefore int64                    `json:"arrays_before"` // -1: not counted (a gated call) or unknown
	ArraysAfter  int64                    `json:"arrays_after"`
	Rounds       int                      `json:"rounds"` // 2 when orphans were killed and the arrays judged again
	Summary      *summary                 `json:"summary,omitempty"`
	Evidence     []remediate.Evidence     `json:"evidence"`
	EvidenceMore int                      `json:"evidence_omitted,omitempty"`
	Orphans      []remediate.Orphan       `json:"orphans"`
	Actions      []remediate.Action       `json:"actions"`
	ActionsMore  int                      `json:"actions_omitted,omitempty"`
	OrphanActs   []remediate.OrphanAction `json:"orphan_actions"`
	Error        string                   `json:"error,omitempty"`
	// Generations are the removed arrays grouped by the start that made
	// them, each with how its Apache died (leak forensics).
	Generations []generationRecord `json:"generations,omitempty"`
	// Hook is a unit hook's call; StateProblems the witness records that
	// could not be used, and why.
	Hook          *hookRecord `json:"hook,omitempty"`
	StateProblems []string    `json:"state_problems,omitempty"`
}

type hookRecord struct {
	Hook    string `json:"hook"`
	Unit    string `json:"unit"`
	MainPID int    `json:"main_pid,omitempty"`
	Note    string `json:"note"`
}

type trigger struct {
	Manual    bool   `json:"manual"`
	State     string `json:"state,omitempty"`
	StateType string `json:"state_type,omitempty"`
	Attempt   int    `json:"attempt,omitempty"`
	Decision  string `json:"decision"`
}

type policyRecord struct {
	ApacheUsers []string `json:"apache_users"`
	MinAge      string   `json:"min_age"`
	MaxRemovals int      `json:"max_removals"`
	KillOrphans bool     `json:"kill_orphans"`
	Neighbours  []string `json:"neighbours,omitempty"`
	PID         int      `json:"pid,omitempty"`
	File        string   `json:"file,omitempty"` // root's policy file, when one was read
}

// newRecord starts the audit line of one plugin call: when, where, why,
// and the policy it ran under.
func newRecord(o options, t trigger) record {
	host, _ := os.Hostname()
	return record{
		Time: time.Now().UTC(), Host: host, DryRun: o.dryRun, ArraysBefore: -1, ArraysAfter: -1, Trigger: t,
		Policy: policyRecord{ApacheUsers: o.apacheUsers, MinAge: o.minAge.String(), MaxRemovals: o.maxRemovals, KillOrphans: o.killOrphans, Neighbours: o.neighbours, PID: o.pid, File: o.policyRead},
	}
}

// fill takes the plugin's report into the record.
func (r *record) fill(rep remediate.Report) {
	r.ArraysBefore, r.ArraysAfter, r.Rounds = rep.ArraysBefore, rep.ArraysAfter, rep.Rounds
	r.Summary = summarize(rep)
	r.Evidence, r.EvidenceMore = capped(rep.Evidence)
	r.Actions, r.ActionsMore = capped(rep.Actions)
	r.Orphans, r.OrphanActs = rep.Orphans, rep.OrphanActions
	r.Namespace = rep.Namespace
}

// caller names who ran the handler: through sudo, SUDO_USER (uid
// SUDO_UID); otherwise the real uid.
func caller() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return fmt.Sprintf("%s (uid %s, through sudo)", u, os.Getenv("SUDO_UID"))
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

// appendAudit appends one JSON line. The log is created 0640 (its
// directory 0750) and only ever appended to.
func appendAudit(path string, r record) error {
	r.Caller = caller()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("audit log %s: %w", path, err)
	}
	return f.Close()
}
