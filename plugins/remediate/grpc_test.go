package remediate

import (
	"math"
	"testing"
	"time"
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
