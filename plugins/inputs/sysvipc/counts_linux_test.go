package sysvipc

import (
	"os/user"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestCountsAsListed: without include_arrays the input judges the arrays
// as it lists them and keeps only counts; with it, it keeps every
// array's classification. Both must report the same sysvipc_sem and
// sysvipc_owner metrics over real leaked, live and foreign arrays.
func TestCountsAsListed(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	ipctest.Fill(t, 5, 33)   // leaked www-data arrays: stale
	ipctest.Fill(t, 3, 4242) // another user's: never Apache's
	id, err := ipctest.SemGet(0, 1, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := ipctest.SemSetVal(id, 0, 1); err != nil { // last user: this live test
		t.Fatal(err)
	}
	if err := ipctest.SemChown(id, 33, 33); err != nil {
		t.Fatal(err)
	}
	gather := func(includeArrays bool) map[string]telegraf.Metric {
		t.Helper()
		s := newDefault()
		s.MinAge = 0
		s.IncludeArrays = includeArrays
		if err := s.Init(); err != nil {
			t.Fatal(err)
		}
		var acc testutil.Accumulator
		if err := s.Gather(&acc); err != nil {
			t.Fatal(err)
		}
		if len(acc.Errors) > 0 {
			t.Fatalf("gather errors: %v", acc.Errors)
		}
		got := map[string]telegraf.Metric{}
		for _, m := range acc.GetTelegrafMetrics() {
			owner, _ := m.GetTag("owner")
			kind, _ := m.GetTag("kind")
			if m.Name() == "sysvipc_sem" || (m.Name() == "sysvipc_owner" && kind == "sem") {
				got[m.Name()+" "+owner] = m
			}
		}
		return got
	}
	fields := func(m telegraf.Metric) map[string]any {
		if m == nil {
			return nil
		}
		return m.Fields()
	}
	counts, arrays := gather(false), gather(true)
	for key, m := range arrays {
		if diff := cmp.Diff(fields(m), fields(counts[key])); diff != "" {
			t.Errorf("%s differs (-include_arrays +counts only):\n%s", key, diff)
		}
	}
	if len(counts) != len(arrays) {
		t.Errorf("counts only reported %d metrics, include_arrays %d", len(counts), len(arrays))
	}
	other := "4242"
	if u, err := user.LookupId(other); err == nil {
		other = u.Username
	}
	want := map[string]map[string]int64{ // the counts-only gather, field by field
		"sysvipc_sem ":           {"arrays": 9, "stale_arrays": 5, "unjudged_arrays": 0},
		"sysvipc_owner www-data": {"objects": 6, "stale_arrays": 5},
		"sysvipc_owner " + other: {"objects": 3, "stale_arrays": 0},
	}
	for key, fs := range want {
		for f, w := range fs {
			if counts[key] == nil {
				t.Errorf("no %q metric: %v", key, counts)
				break
			}
			if v, ok := counts[key].GetField(f); !ok || v != w {
				t.Errorf("%s %s = %v, want %d", key, f, v, w)
			}
		}
	}
}
