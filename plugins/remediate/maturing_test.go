package remediate

import (
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// TestReportMaturing: each array counts by its last judgement (killing
// an orphan that held an undo entry changes the array again), and an
// array removed counts not at all.
func TestReportMaturing(t *testing.T) {
	young := func(id int32, round int, otime int64, matures bool) Evidence {
		return Evidence{SemID: id, Round: round, OTime: otime, CTime: otime - 10, Verdict: sysvipc.Live,
			Reasons: []sysvipc.Reason{sysvipc.ReasonTooYoung}, PIDState: sysvipc.PIDDead, Matures: matures}
	}
	rep := Report{Rounds: 2, Evidence: []Evidence{
		young(1, 1, 1000, true), young(1, 2, 1003, true), // changed again by the orphan's exit
		young(2, 1, 990, true), young(2, 2, 990, true), // removed in round 2 after all
		young(3, 1, 995, true), young(3, 2, 995, false), // a process took it meanwhile
		young(4, 1, 1001, true),
	}, Actions: []Action{{SemID: 2, Outcome: Removed}}}
	m := rep.Maturing()
	if m.Arrays != 2 || !m.First.Equal(time.Unix(1001, 0)) {
		t.Errorf("maturing %d arrays from %s, want 2 from %s", m.Arrays, m.First, time.Unix(1001, 0))
	}
	if (Report{}).Maturing().Line(time.Minute) != "" {
		t.Error("a report without arrays has a maturing line")
	}
}
