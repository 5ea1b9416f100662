package remediate

import (
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// Remaining is each array's last judgement (a second round, after
// orphans were killed, may have seen it changed), leaving out the arrays
// removed, or in a dry run judged stale.
func (r Report) Remaining() map[int32]Evidence {
	gone := map[int32]bool{}
	for _, a := range r.Actions {
		if a.Outcome == Removed {
			gone[a.SemID] = true
		}
	}
	last := map[int32]Evidence{}
	for _, e := range r.Evidence {
		if prev, ok := last[e.SemID]; !ok || e.Round >= prev.Round {
			last[e.SemID] = e
		}
	}
	for id, e := range last {
		if gone[id] || (r.DryRun && e.Verdict == sysvipc.Stale) {
			delete(last, id)
		}
	}
	return last
}

// Maturing counts the arrays a run kept for their age alone that would
// be stale once older, by each one's last judgement (Remaining).
func (r Report) Maturing() sysvipc.Maturing {
	var m sysvipc.Maturing
	for _, e := range r.Remaining() {
		if e.Matures {
			m.Add(time.Unix(max(e.OTime, e.CTime), 0))
		}
	}
	return m
}
