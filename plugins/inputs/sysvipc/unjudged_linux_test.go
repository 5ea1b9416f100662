package sysvipc

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/testutil"
)

// TestUnjudgedWarning: over a fixture tree no array can be probed, and
// the one warning says why (no kernel behind the files), not that semctl
// needs permissions the reader may well have.
func TestUnjudgedWarning(t *testing.T) {
	dir := filepath.Join("testcases", "leaked")
	t.Setenv("HOST_PROC", filepath.Join(dir, "proc"))
	plugin := load(t, filepath.Join(dir, "telegraf.conf"))
	logger := &testutil.CaptureLogger{}
	plugin.Log = logger
	if err := plugin.Init(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		var acc testutil.Accumulator
		if err := plugin.Gather(&acc); err != nil {
			t.Fatal(err)
		}
	}
	var warnings []string
	for _, w := range logger.Warnings() {
		if strings.Contains(w, "stale_arrays left out") {
			warnings = append(warnings, w)
		}
	}
	if len(warnings) != 1 {
		t.Fatalf("%d stale_arrays warnings over two gathers, want 1: %q", len(warnings), logger.Warnings())
	}
	w := warnings[0]
	if !strings.Contains(w, "9 apache arrays") || !strings.Contains(w, "HOST_PROC is not a live procfs") || strings.Contains(w, "read permission") {
		t.Errorf("warning %q, want the 9 arrays and HOST_PROC named, no permission advice", w)
	}
}
