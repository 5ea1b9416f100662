package main

import (
	"bufio"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// known makes a namespace whose every number is known: kernel.sem
// 100 2000 50 20, two arrays (3 and 1 semaphores), an 8,192-byte segment,
// a queue holding "hello" and "world!" (11 bytes).
func known(t *testing.T) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ipctest.SetSemLimits(100, 2000, 50, 20))
	_, err := ipctest.SemGet(0, 3, 0o600)
	must(err)
	_, err = ipctest.SemGet(77, 1, 0o644)
	must(err)
	// An Apache-shaped array (private, one semaphore, made by root and
	// handed to www-data): nobody cannot read its detail.
	apacheLike, err := ipctest.SemGet(0, 1, 0o600)
	must(err)
	must(ipctest.SemChown(apacheLike, 33, 33))
	_, err = ipctest.ShmGet(0, 8192, 0o600)
	must(err)
	q, err := ipctest.MsgGet(5, 0o600)
	must(err)
	must(ipctest.MsgSend(q, "hello"))
	must(ipctest.MsgSend(q, "world!"))
}

// wantKnown are the fields known() implies, by measurement.
var wantKnown = map[string]map[string]any{
	"sysvipc_sem": {
		"arrays": int64(3), "arrays_max": int64(20), "semaphores": int64(5), "semaphores_max": int64(2000),
		"semmsl": int64(100), "semopm": int64(50), "semvmx": int64(32767), "arrays_used_percent": 15.0,
	},
	"sysvipc_shm": {
		"segments": int64(1), "segments_max": int64(4096), "bytes": int64(8192), "rss_bytes": int64(0),
		"swap_bytes": int64(0), "unattached_segments": int64(1),
	},
	"sysvipc_msg": {
		"queues": int64(1), "queues_max": int64(32000), "messages": int64(2), "bytes": int64(11),
		"msgmax": int64(8192), "msgmnb": int64(16384),
	},
}

// gatherOnce runs the shim as execd does with signal = "STDIN": one line
// in, one gather out; closing stdin ends it.
func gatherOnce(t *testing.T, cred *syscall.Credential) map[string]telegraf.Metric {
	t.Helper()
	cmd := exec.Command(shimBinPath(), "-poll_interval_disabled")
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, stdout := ipctest.StartPiped(t, cmd)
	if _, err := io.WriteString(stdin, "\n"); err != nil {
		t.Fatal(err)
	}
	got := map[string]telegraf.Metric{}
	parser := &influx.Parser{}
	if err := parser.Init(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for len(got) < 3 && lines.Scan() {
		m, err := parser.ParseLine(lines.Text())
		if err != nil {
			t.Fatalf("line %q: %v", lines.Text(), err)
		}
		if m.Name() != "sysvipc_owner" {
			got[m.Name()] = m
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("shim: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "E!") {
		t.Errorf("shim logged an error:\n%s", stderr.String())
	}
	return got
}

// checkFields wants the known fields, and the stale count only where it
// was measured: as root stale_arrays=0 and unjudged_arrays=0; as nobody,
// who cannot read the www-data array, no stale_arrays at all and
// unjudged_arrays=1 (never a zero it did not measure).
func checkFields(t *testing.T, got map[string]telegraf.Metric, asRoot bool) {
	t.Helper()
	if sem, ok := got["sysvipc_sem"]; ok {
		stale, hasStale := sem.GetField("stale_arrays")
		unjudged, _ := sem.GetField("unjudged_arrays")
		switch {
		case asRoot && (!hasStale || stale != int64(0) || unjudged != int64(0)):
			t.Errorf("as root: stale_arrays %v (present %v), unjudged_arrays %v; want 0 and 0", stale, hasStale, unjudged)
		case !asRoot && (hasStale || unjudged != int64(1)):
			t.Errorf("as nobody: stale_arrays %v (present %v), unjudged_arrays %v; want absent and 1", stale, hasStale, unjudged)
		}
	}
	for name, fields := range wantKnown {
		m, ok := got[name]
		if !ok {
			t.Errorf("no %s metric", name)
			continue
		}
		for field, want := range fields {
			if v, ok := m.GetField(field); !ok || v != want {
				t.Errorf("%s %s = %v (%T), want %v (%T)", name, field, v, v, want, want)
			}
		}
	}
}

// TestShimGather runs the built shim in a private namespace with known
// objects, as root and as nobody: the counts come out the same, field by
// field.
func TestShimGather(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	known(t)
	checkFields(t, gatherOnce(t, nil), true)
	checkFields(t, gatherOnce(t, &syscall.Credential{Uid: 65534, Gid: 65534}), false)
}
