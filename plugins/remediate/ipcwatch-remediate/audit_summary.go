package main

import (
	"fmt"
	"slices"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// The audit line's bounds: at 32,000 arrays a line listing each one was
// 8.5 MB; summarised it stays a few kilobytes.
const (
	maxAuditItems  = 64  // arrays listed in full in evidence and actions
	maxAuditKept   = 20  // blockers named
	maxAuditRanges = 128 // ranges of semids per outcome
)

// summary counts every candidate array of one call.
type summary struct {
	Candidates int            `json:"candidates"`
	Verdicts   map[string]int `json:"verdicts"`       // the first judgement's
	KeptWhy    map[string]int `json:"kept_by_reason"` // arrays not stale, by their first reason
	Kept       []sysvipc.Kept `json:"kept_by"`
	KeptMore   int            `json:"kept_by_omitted,omitempty"`
	Removed    semids         `json:"removed"`
	Skipped    semids         `json:"skipped"`
	Failed     semids         `json:"failed"`
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
	by := map[remediate.Outcome][]int32{}
	for _, a := range rep.Actions {
		by[a.Outcome] = append(by[a.Outcome], a.SemID)
	}
	s.Removed, s.Skipped, s.Failed = rangesOf(by[remediate.Removed]), rangesOf(by[remediate.Skipped]), rangesOf(by[remediate.Failed])
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
