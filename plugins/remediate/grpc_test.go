package remediate

import (
	"reflect"
	"slices"

	"math"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// TestDurationsCrossWithoutWrapping: the minimum age never wraps into a
// negative or a small number on its way to the plugin.
func TestDurationsCrossWithoutWrapping(t *testing.T) {
	for _, tt := range []struct {
		in   time.Duration
		want int64
	}{
		{0, 0}, {time.Nanosecond, 1}, {5 * time.Minute, 300}, {9223372036 * time.Second, 9223372036},
		{math.MaxInt64, 9223372037},
	} {
		if got := ceilSeconds(tt.in); got != tt.want {
			t.Errorf("ceilSeconds(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		in   int64
		want time.Duration
	}{
		{300, 5 * time.Minute}, {9223372037, math.MaxInt64}, {math.MaxInt64, math.MaxInt64}, {-1, -1}, {math.MinInt64, -1},
	} {
		if got := secondsDuration(tt.in); got != tt.want {
			t.Errorf("secondsDuration(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestEveryReasonCrosses: each reason the classifier gives has its proto
// value; one missing would cross as "unspecified".
func TestEveryReasonCrosses(t *testing.T) {
	for _, r := range append(slices.Clone(sysvipc.Reasons), ReasonAfterOrphans) {
		p := reasons.toProto(r)
		if p == 0 || reasons.fromProto(p) != r {
			t.Errorf("reason %q crosses as %v", r, p)
		}
	}
}

// TestEvidenceCrosses: every field of an array's evidence, matures
// included, reaches the host as the plugin sent it.
func TestEvidenceCrosses(t *testing.T) {
	e := Evidence{SemID: 7, Key: 0, UID: 33, Owner: "www-data", NSems: 1, Value: 1, NCnt: 2, ZCnt: 3, LastPID: 4242,
		PIDState: sysvipc.PIDDead, OTime: 1000, CTime: 990, Verdict: sysvipc.Live, Reasons: []sysvipc.Reason{sysvipc.ReasonTooYoung},
		Round: 2, BlockerPID: 9, Matures: true}
	got := reportFromProto(reportToProto(Report{Evidence: []Evidence{e}}))
	if len(got.Evidence) != 1 || !reflect.DeepEqual(got.Evidence[0], e) {
		t.Errorf("evidence crossed as %+v, want %+v", got.Evidence, e)
	}
}
