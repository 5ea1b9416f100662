package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// telegrafConf runs the shim under a real Telegraf the way the README
// tells operators to: inputs.execd with signal = "STDIN", metrics to a
// file.
const telegrafConf = `[agent]
  interval = "1s"
  flush_interval = "1s"
  omit_hostname = true

[[inputs.execd]]
  command = ["{{shim}}", "-config", "{{sample}}", "-poll_interval_disabled"]
  signal = "STDIN"
  data_format = "influx"

[[outputs.file]]
  files = ["{{out}}"]
  data_format = "influx"
`

// TestRealTelegraf runs Telegraf (built from the module proxy by `make
// telegraf` with tags custom,inputs.execd,outputs.file; its path in
// IPCWATCH_TELEGRAF) in a private namespace with known objects, and
// checks the metrics that reach its file output.
func TestRealTelegraf(t *testing.T) {
	bin := os.Getenv("IPCWATCH_TELEGRAF")
	_, err := os.Stat(bin)
	ipctest.Require(t, bin != "" && err == nil, "needs a Telegraf binary in IPCWATCH_TELEGRAF (make telegraf)")
	if !ipctest.Enter(t) {
		return
	}
	known(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "metrics.out")
	sample, err := filepath.Abs(filepath.Join("..", "sample.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("{{shim}}", shimBinPath(), "{{sample}}", sample, "{{out}}", out).Replace(telegrafConf)
	confPath := filepath.Join(dir, "telegraf.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", confPath)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		t.Logf("telegraf log:\n%s", log.String())
	}()

	got := map[string]telegraf.Metric{}
	parser := &influx.Parser{}
	if err := parser.Init(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); len(got) < 3 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		b, _ := os.ReadFile(out)
		for _, line := range strings.Split(string(b), "\n") {
			if m, err := parser.ParseLine(line); err == nil && m.Name() != "sysvipc_owner" {
				got[m.Name()] = m
			}
		}
	}
	checkFields(t, got, true)
}
