//go:build linux

package sysvipc

import (
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/common/shim"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	serializers_influx "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/influxdata/telegraf/testutil"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
	ipc "github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

var update = flag.Bool("update", false, "rewrite testcases/*/expected.out")

// fixedNow is the time of every golden gather: ages in expected.out are
// counted from it.
var fixedNow = time.Unix(1795790000, 0)

// load reads a testcase's telegraf.conf the way the shim does.
func load(t *testing.T, conf string) *SysVIPC {
	t.Helper()
	loaded, err := shim.LoadConfig(&conf)
	if err != nil {
		t.Fatal(err)
	}
	plugin, ok := loaded.Input.(*SysVIPC)
	if !ok {
		t.Fatalf("%s loaded %T", conf, loaded.Input)
	}
	plugin.Log = testutil.Logger{}
	return plugin
}

// TestCases gathers over the fixture proc trees of testcases/<case>/ and
// compares with expected.out (line protocol), as Telegraf's zfs input
// does. go test ./plugins/inputs/sysvipc -update rewrites them.
func TestCases(t *testing.T) {
	folders, err := os.ReadDir("testcases")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		t.Run(f.Name(), func(t *testing.T) {
			dir := filepath.Join("testcases", f.Name())
			t.Setenv("HOST_PROC", filepath.Join(dir, "proc"))
			plugin := load(t, filepath.Join(dir, "telegraf.conf"))
			plugin.now = func() time.Time { return fixedNow }
			if err := plugin.Init(); err != nil {
				t.Fatal(err)
			}
			var acc testutil.Accumulator
			if err := plugin.Gather(&acc); err != nil {
				t.Fatal(err)
			}
			actual := acc.GetTelegrafMetrics()
			sortMetrics(actual)
			expectedFile := filepath.Join(dir, "expected.out")
			if *update {
				writeLineProtocol(t, expectedFile, actual)
			}
			parser := &influx.Parser{}
			if err := parser.Init(); err != nil {
				t.Fatal(err)
			}
			expected, err := testutil.ParseMetricsFromFile(expectedFile, parser)
			if err != nil {
				t.Fatal(err)
			}
			testutil.RequireMetricsEqual(t, expected, actual, testutil.SortMetrics())
		})
	}
}

func sortMetrics(ms []telegraf.Metric) {
	slices.SortStableFunc(ms, func(a, b telegraf.Metric) int {
		return strings.Compare(a.Name()+tagString(a), b.Name()+tagString(b))
	})
}

func tagString(m telegraf.Metric) string {
	var b strings.Builder
	for _, tag := range m.TagList() {
		b.WriteString("," + tag.Key + "=" + tag.Value)
	}
	return b.String()
}

func writeLineProtocol(t *testing.T, path string, ms []telegraf.Metric) {
	t.Helper()
	s := &serializers_influx.Serializer{SortFields: true}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	out, err := s.SerializeBatch(ms)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*SysVIPC)
		want   string
	}{
		{"unknown collect", func(s *SysVIPC) { s.Collect = []string{"sem", "shared"} }, `invalid configuration: collect: unknown kind "shared" (want sem, shm or msg)`},
		{"empty collect", func(s *SysVIPC) { s.Collect = []string{} }, "invalid configuration: collect: empty list, nothing to report (leave it out for all kinds)"},
		{"empty users", func(s *SysVIPC) { s.ApacheUsers = []string{} }, "invalid configuration: apache_users: empty list (leave it out for the defaults)"},
		{"blank user", func(s *SysVIPC) { s.ApacheUsers = []string{"www-data", ""} }, "invalid configuration: apache_users: empty user name"},
		{"negative min age", func(s *SysVIPC) { s.MinAge = -1 }, "invalid configuration: min_age: -1ns is negative"},
		{"misspelled user", func(s *SysVIPC) { s.ApacheUsers = []string{"www-dat"} }, `invalid configuration: apache_users: unknown user: "www-dat": user: unknown user www-dat`},
		{"max arrays zero", func(s *SysVIPC) { s.MaxArrays = 0 }, "invalid configuration: max_arrays: 0, want at least 1"},
		{"namespaces", func(s *SysVIPC) { s.Namespaces = "containers" }, `invalid configuration: namespaces: "containers", want "self" or "all"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDefault()
			tt.modify(s)
			err := s.Init()
			if err == nil || err.Error() != tt.want {
				t.Errorf("Init() = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestMissingSysvipc: a kernel without System V IPC is an error, not zeros.
func TestMissingSysvipc(t *testing.T) {
	root := t.TempDir()
	t.Setenv("HOST_PROC", root)
	s := newDefault()
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	var acc testutil.Accumulator
	err := s.Gather(&acc)
	want := "system v ipc not available: " + filepath.Join(root, "sysvipc") + " is missing (kernel without CONFIG_SYSVIPC or a sandbox hiding it)"
	if err == nil || err.Error() != want {
		t.Errorf("Gather() = %v, want %s", err, want)
	}
	if acc.NMetrics() != 0 {
		t.Errorf("%d metrics from a missing /proc/sysvipc", acc.NMetrics())
	}
}

// TestSampleConfig: the shim's sample.conf at the top level is the
// plugin's embedded one, and it loads.
func TestSampleConfig(t *testing.T) {
	top, err := os.ReadFile(filepath.Join("..", "..", "..", "sample.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if string(top) != sampleConfig {
		t.Error("sample.conf at the top level differs from plugins/inputs/sysvipc/sample.conf")
	}
	s := load(t, filepath.Join("..", "..", "..", "sample.conf"))
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	def := newDefault()
	want, err := ipc.NewPolicy(ipc.DefaultApacheUsers, ipc.DefaultMinAge)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Collect, def.Collect) || s.policy.MinAge != want.MinAge || !maps.Equal(s.policy.ApacheUIDs, want.ApacheUIDs) || s.MaxArrays != 1000 || s.IncludeArrays || s.Namespaces != "self" {
		t.Errorf("sample.conf loads %+v, want the defaults", s)
	}
}

func newDefault() *SysVIPC {
	s := inputsCreator()
	s.Log = testutil.Logger{}
	return s
}

// TestPolicyFileJudges: root's policy file sets the handler's minimum age
// and Apache users; where this config sets none, the input judges by the
// file's too, so its stale count is what the handler removes. A setting
// given wins; a bad value in the file stops the plugin at start, named.
func TestPolicyFileJudges(t *testing.T) {
	ipctest.Require(t, os.Geteuid() == 0, "the policy file must be root's; make test runs as root")
	dir := ipctest.WorldReadableDir(t, "ipcwatch-policy-")
	conf := filepath.Join(dir, "remediate.conf")
	if err := os.WriteFile(conf, []byte("min_age = \"1h\"\napache_users = [\"nobody\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newDefault()
	s.PolicyFile = conf
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	if s.policy.MinAge != time.Hour || len(s.policy.ApacheUIDs) != 1 || !s.policy.ApacheUIDs[65534] {
		t.Errorf("unset: min age %s, users %v; want the file's 1h and nobody", s.policy.MinAge, s.policy.ApacheUIDs)
	}
	s = newDefault()
	s.PolicyFile, s.MinAge, s.ApacheUsers = conf, config.Duration(0), []string{"www-data"}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	if s.policy.MinAge != 0 || !s.policy.ApacheUIDs[33] || s.policy.ApacheUIDs[65534] {
		t.Errorf("set: min age %s, users %v; want the config's 0s and www-data", s.policy.MinAge, s.policy.ApacheUIDs)
	}
	if err := os.WriteFile(conf, []byte("min_age = \"soon\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = newDefault()
	s.PolicyFile = conf
	want := "invalid configuration: policy_file: policy file " + conf + `: min_age: time: invalid duration "soon"`
	if err := s.Init(); err == nil || err.Error() != want {
		t.Errorf("Init() = %v, want %s", err, want)
	}
}
