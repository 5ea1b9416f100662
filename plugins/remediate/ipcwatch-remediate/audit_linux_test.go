package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestAuditLineBounded: the outage after 32,000 leaked arrays. The
// handler removes them all, and its audit record stays one JSON line
// under 64 KiB (a line listing every array was 8.5 MB) that still says
// what went: the count, and the semids as ranges.
func TestAuditLineBounded(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	const n = 32000
	ids := leakTable(t, n)
	h := newHandler(t)
	out, code := h.run("--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3", "--min-age", "0s")
	if code != 0 || !strings.HasPrefix(out, "ipcwatch-remediate: removed 32000 of 32000 stale arrays, 0 skipped, 0 failed; semaphore arrays 32000 -> 0") {
		t.Fatalf("exit %d: %s", code, out)
	}
	b, err := os.ReadFile(h.audit)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(b, []byte("\n")) != 1 {
		t.Fatalf("the audit log holds %d lines, want one", bytes.Count(b, []byte("\n")))
	}
	t.Logf("the audit line after %d removals: %d bytes", n, len(b))
	if len(b) >= 64<<10 {
		t.Errorf("the audit line is %d bytes, want under 64 KiB", len(b))
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	s := rec.Summary
	if s == nil || s.Candidates != n || s.Verdicts["stale"] != n || s.Removed.Count != n || s.Skipped.Count != 0 || s.Failed.Count != 0 {
		t.Fatalf("the summary does not count every array: %+v", s)
	}
	// The ranges name exactly the removed semids, none twice, under the
	// reason they were stale for.
	named := map[int32]bool{}
	removed := s.Removed.ByReason["no_apache_running"]
	if len(s.Removed.ByReason) != 1 || removed.Count != n {
		t.Fatalf("removed by reason: %+v, want all %d for no_apache_running", s.Removed.ByReason, n)
	}
	for _, r := range removed.Ranges {
		lo, hi, err := parseRange(r)
		if err != nil {
			t.Fatalf("range %q: %v", r, err)
		}
		for id := lo; id <= hi; id++ {
			if named[id] {
				t.Fatalf("semid %d named twice", id)
			}
			named[id] = true
		}
	}
	if removed.Omitted == 0 {
		for _, id := range ids {
			if !named[id] {
				t.Errorf("removed semid %d is in no range", id)
			}
		}
		if len(named) != n {
			t.Errorf("the ranges name %d semids, want %d", len(named), n)
		}
	}
	if len(rec.Actions) != maxAuditItems || rec.ActionsMore != n-maxAuditItems {
		t.Errorf("actions listed %d, omitted %d; want %d and %d", len(rec.Actions), rec.ActionsMore, maxAuditItems, n-maxAuditItems)
	}
}

// parseRange reads "7" or "0-31999" as the audit summary writes them.
func parseRange(r string) (lo, hi int32, err error) {
	a, b, found := strings.Cut(r, "-")
	l, err := strconv.ParseInt(a, 10, 32)
	if err != nil || !found {
		return int32(l), int32(l), err
	}
	h, err := strconv.ParseInt(b, 10, 32)
	return int32(l), int32(h), err
}

// TestAuditLineInterleaved: 32,000 leaked arrays of which every other one
// belongs to another user (never Apache's), so the 16,000 removed semids
// make 16,000 ranges. The line stays under 64 KiB: it counts every
// removal under its reason, names the first ranges and counts the ranges
// it leaves out.
func TestAuditLineInterleaved(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	for i, id := range leakTable(t, 32000) {
		if i%2 == 1 {
			if err := ipctest.SemChown(id, 4242, 4242); err != nil {
				t.Fatal(err)
			}
		}
	}
	h := newHandler(t)
	out, code := h.run("--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3", "--min-age", "0s")
	if code != 0 || !strings.HasPrefix(out, "ipcwatch-remediate: removed 16000 of 16000 stale arrays, 0 skipped, 0 failed; semaphore arrays 32000 -> 16000") {
		t.Fatalf("exit %d: %s", code, out)
	}
	b, err := os.ReadFile(h.audit)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the audit line after 16,000 interleaved removals: %d bytes", len(b))
	if len(b) >= 64<<10 {
		t.Errorf("the audit line is %d bytes, want under 64 KiB", len(b))
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	r := rec.Summary.Removed.ByReason["no_apache_running"]
	if rec.Summary.Removed.Count != 16000 || r.Count != 16000 || len(r.Ranges) != maxAuditRanges || r.Omitted != 16000-maxAuditRanges {
		t.Errorf("removed %d, by reason %d in %d ranges and %d left out; want 16000, 16000, %d and %d",
			rec.Summary.Removed.Count, r.Count, len(r.Ranges), r.Omitted, maxAuditRanges, 16000-maxAuditRanges)
	}
}

// leakTable makes SEMMNI n and fills the table with n Apache-style
// arrays that a www-data process made and left by exiting; it returns
// their semids.
func leakTable(t *testing.T, n int) []int32 {
	t.Helper()
	if err := ipctest.SetSemLimits(250, n, 32, n); err != nil {
		t.Fatal(err)
	}
	ipctest.Fill(t, n, 33)
	ids := ipctest.SemIDs(t)
	if len(ids) != n {
		t.Fatalf("filled %d arrays, want %d", len(ids), n)
	}
	return ids
}
