package sysvipc

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// BenchmarkGather is one steady-state gather of whatever the namespace
// holds (.ci/bench.sh fills it with 32,000 leaked arrays), with min_age 0
// so every candidate is classified and probed, not skipped as too young.
func BenchmarkGather(b *testing.B) {
	if !ipctest.Inside() {
		b.Skip("run by make bench inside a private IPC namespace")
	}
	s := newDefault()
	s.MinAge = config.Duration(0 * time.Second)
	if err := s.Init(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var acc testutil.Accumulator
		if err := s.Gather(&acc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGatherAllNamespaces gathers every IPC namespace (.ci/bench.sh
// starts 100 with five arrays each); ns/op divided by the namespaces is the
// cost of one.
func BenchmarkGatherAllNamespaces(b *testing.B) {
	if !ipctest.Inside() {
		b.Skip("run by make bench inside a private IPC namespace")
	}
	s := newDefault()
	s.Namespaces = "all"
	if err := s.Init(); err != nil {
		b.Fatal(err)
	}
	var namespaces int
	for b.Loop() {
		var acc testutil.Accumulator
		if err := s.Gather(&acc); err != nil {
			b.Fatal(err)
		}
		namespaces = 0
		for _, m := range acc.GetTelegrafMetrics() {
			if m.Name() == "sysvipc_sem" {
				namespaces++
			}
		}
	}
	b.ReportMetric(float64(namespaces), "namespaces")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(max(namespaces, 1))/1e3, "µs/namespace")
}
