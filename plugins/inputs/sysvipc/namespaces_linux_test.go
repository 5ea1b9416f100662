package sysvipc

import (
	"strconv"
	"testing"

	"github.com/influxdata/telegraf/testutil"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
	ipc "github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// TestNamespacesAll: with namespaces = "all" each IPC namespace is
// reported apart, tagged with its inode, with its own counts and limits.
func TestNamespacesAll(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	if err := ipctest.SetSemLimits(250, 32000, 32, 50); err != nil {
		t.Fatal(err)
	}
	a := ipctest.StartChildNamespace(t, [4]int{250, 32000, 32, 20}, 3, 33)
	b := ipctest.StartChildNamespace(t, [4]int{100, 3000, 16, 10}, 6, 33)
	s := newDefault()
	s.Namespaces = "all"
	s.MinAge = 0
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
	fs, err := ipc.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	inode := func(pid string) string {
		n, err := fs.IPCNamespace(pid)
		if err != nil {
			t.Fatal(err)
		}
		return strconv.FormatUint(n, 10)
	}
	want := map[string][3]int64{ // arrays, arrays_max, stale_arrays
		inode("self"):              {0, 50, 0},
		inode(strconv.Itoa(a.PID)): {3, 20, 3},
		inode(strconv.Itoa(b.PID)): {6, 10, 6},
	}
	got := map[string][3]int64{}
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() != "sysvipc_sem" {
			continue
		}
		ns, _ := m.GetTag("ipc_namespace")
		arrays, _ := m.GetField("arrays")
		limit, _ := m.GetField("arrays_max")
		stale, _ := m.GetField("stale_arrays")
		got[ns] = [3]int64{arrays.(int64), limit.(int64), stale.(int64)}
	}
	for ns, w := range want {
		if got[ns] != w {
			t.Errorf("namespace %s: arrays, arrays_max, stale_arrays = %v, want %v (all: %v)", ns, got[ns], w, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d namespaces reported, want 3: %v", len(got), got)
	}
}
