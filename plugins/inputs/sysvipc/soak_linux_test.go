package sysvipc

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

func TestMain(m *testing.M) {
	ipctest.HelperMain()
	os.Exit(m.Run())
}

// TestSoak gathers 1,000 times over real objects, Apache-shaped ones
// included (so the census and the probes run every time), and checks that
// goroutines, open files and the heap do not grow.
func TestSoak(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	for range 3 {
		ipctest.StartHolder(t, 33, false).Stop()
	}
	if _, err := ipctest.ShmGet(0, 4096, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newDefault()
	s.IncludeArrays = true
	s.MinAge = 0
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	gather := func(n int) {
		for range n {
			var acc testutil.Accumulator
			if err := s.Gather(&acc); err != nil {
				t.Fatal(err)
			}
			if acc.NMetrics() == 0 {
				t.Fatal("a gather produced nothing")
			}
		}
	}
	measure := func() (goroutines, fds int, heap uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return runtime.NumGoroutine(), len(entries), ms.HeapAlloc
	}
	gather(50) // warm up caches and pools
	g0, f0, h0 := measure()
	start := time.Now()
	gather(1000)
	g1, f1, h1 := measure()
	t.Logf("1000 gathers in %s: goroutines %d -> %d, fds %d -> %d, heap %d -> %d bytes", time.Since(start), g0, g1, f0, f1, h0, h1)
	if g1 > g0 {
		t.Errorf("goroutines grew from %d to %d", g0, g1)
	}
	if f1 > f0 {
		t.Errorf("open files grew from %d to %d", f0, f1)
	}
	if h1 > h0+256<<10 {
		t.Errorf("heap grew from %d to %d bytes", h0, h1)
	}
}
