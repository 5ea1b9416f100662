package remediate

import (
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// Maturing counts the arrays a run kept for their age alone that would
// be stale once older: each array's last judgement (a second round, after
// orphans were killed, may have seen it changed), none that was removed.
func (r Report) Maturing() sysvipc.Maturing {
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
	var m sysvipc.Maturing
	for id, e := range last {
		if e.Matures && !gone[id] {
			m.Add(time.Unix(max(e.OTime, e.CTime), 0))
		}
	}
	return m
}
