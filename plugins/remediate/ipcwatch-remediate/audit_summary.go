package main

import (
	"fmt"
	"slices"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// The audit line's bounds: at 32,000 arrays a line listing each one was
// 8.5 MB; summarised it stays under 64 KiB, even when every other semid
// was removed (TestAuditLineBounded).
const (
	maxAuditItems  = 64   // arrays listed in full in evidence and actions
	maxAuditKept   = 20   // blockers named
	maxAuditRanges = 1024 // ranges of semids per outcome (per reason, for removals)
)

// summary counts every candidate array of one call.
type summary struct {
	Candidates int            `json:"candidates"`
	Verdicts   map[string]int `json:"verdicts"`       // the first judgement's
	KeptWhy    map[string]int `json:"kept_by_reason"` // arrays not stale, by their first reason
	Kept       []sysvipc.Kept `json:"kept_by"`
	KeptMore   int            `json:"kept_by_omitted,omitempty"`
	Removed    removed        `json:"removed"`
	Skipped    semids         `json:"skipped"`
	Failed     semids         `json:"failed"`
}

// removed names what went and why: by the stale verdict's reason
// (witnessed_leak: a unit's record proved it; no_apache_running: the
// outage did), the semids as ranges.
type removed struct {
	Count    int               `json:"count"`
	ByReason map[string]semids `json:"by_reason"`
}

// semids are arrays as a count and ranges of consecutive semids ("7",
// "0-31999"), the ranges capped.
type semids struct {
	Count   int      `json:"count"`
	Ranges  []string `json:"semids"`
	Omitted int      `json:"ranges_omitted,omitempty"`
}

func summarize(rep remediate.Report) *summary {
	s := &summary{Verdicts: map[string]int{}, KeptWhy: map[string]int{}}
	for _, e := range rep.FirstRound() {
		s.Candidates++
		s.Verdicts[string(e.Verdict)]++
		if e.Verdict != sysvipc.Stale && len(e.Reasons) > 0 {
			s.KeptWhy[string(e.Reasons[0])]++
		}
	}
	s.Kept, s.KeptMore = rep.Kept, 0
	if len(s.Kept) > maxAuditKept {
		s.Kept, s.KeptMore = s.Kept[:maxAuditKept], len(s.Kept)-maxAuditKept
	}
	// The reason each array was judged stale for, in the last round that
	// judged it.
	why := map[int32]string{}
	for _, e := range rep.Evidence {
		if e.Verdict == sysvipc.Stale && len(e.Reasons) > 0 {
			why[e.SemID] = string(e.Reasons[0])
		}
	}
	by := map[remediate.Outcome][]int32{}
	removedBy := map[string][]int32{}
	for _, a := range rep.Actions {
		by[a.Outcome] = append(by[a.Outcome], a.SemID)
		if a.Outcome == remediate.Removed {
			removedBy[why[a.SemID]] = append(removedBy[why[a.SemID]], a.SemID)
		}
	}
	s.Removed = removed{Count: len(by[remediate.Removed]), ByReason: map[string]semids{}}
	for r, ids := range removedBy {
		s.Removed.ByReason[r] = rangesOf(ids)
	}
	s.Skipped, s.Failed = rangesOf(by[remediate.Skipped]), rangesOf(by[remediate.Failed])
	return s
}

// rangesOf folds semids into ranges of consecutive ids.
func rangesOf(ids []int32) semids {
	out := semids{Count: len(ids), Ranges: []string{}}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if len(out.Ranges) == maxAuditRanges {
			out.Omitted++
		} else if i == j {
			out.Ranges = append(out.Ranges, fmt.Sprint(ids[i]))
		} else {
			out.Ranges = append(out.Ranges, fmt.Sprintf("%d-%d", ids[i], ids[j]))
		}
		i = j + 1
	}
	return out
}

// capped is the first maxAuditItems of a list, and how many it leaves out.
func capped[T any](items []T) ([]T, int) {
	if len(items) <= maxAuditItems {
		return items, 0
	}
	return items[:maxAuditItems], len(items) - maxAuditItems
}
