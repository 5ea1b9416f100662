//go:build linux

// Package sysvipc is a Telegraf input reporting System V IPC usage against
// the kernel's limits, per owner, and Apache's leaked semaphore arrays.
package sysvipc

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/inputs"

	ipc "github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

//go:embed sample.conf
var sampleConfig string

// errConfig marks a bad option; Init fails with the option named.
var errConfig = errors.New("invalid configuration")

// SysVIPC is the input.
type SysVIPC struct {
	Collect       []string        `toml:"collect"`
	ApacheUsers   []string        `toml:"apache_users"`
	MinAge        config.Duration `toml:"min_age"`
	IncludeArrays bool            `toml:"include_arrays"`
	MaxArrays     int             `toml:"max_arrays"`
	Namespaces    string          `toml:"namespaces"`
	PolicyFile    string          `toml:"policy_file"`
	StateDir      string          `toml:"state_dir"`
	Log           telegraf.Logger `toml:"-"`

	fs     ipc.FS
	policy ipc.Policy
	// warnedUnjudged: the warning about unjudged arrays is logged once;
	// warnedRecords the same for unusable unit records.
	warnedUnjudged, warnedRecords bool
	collect                       map[string]bool
	now                           func() time.Time
}

// SampleConfig returns the embedded sample.conf.
func (*SysVIPC) SampleConfig() string { return sampleConfig }

// Init validates the options and opens the proc tree (HOST_PROC, else
// /proc).
func (s *SysVIPC) Init() error {
	if len(s.Collect) == 0 {
		return fmt.Errorf("%w: collect: empty list, nothing to report (leave it out for all kinds)", errConfig)
	}
	s.collect = map[string]bool{}
	for _, kind := range s.Collect {
		if !slices.Contains([]string{"sem", "shm", "msg"}, kind) {
			return fmt.Errorf("%w: collect: unknown kind %q (want sem, shm or msg)", errConfig, kind)
		}
		s.collect[kind] = true
	}
	if len(s.ApacheUsers) == 0 {
		return fmt.Errorf("%w: apache_users: empty list (leave it out for the defaults)", errConfig)
	}
	for _, u := range s.ApacheUsers {
		if u == "" {
			return fmt.Errorf("%w: apache_users: empty user name", errConfig)
		}
	}
	// The same policy, and the same refusal of an unknown user, as the
	// check and the remediation plugin: a misspelled apache_users entry
	// fails here instead of silently judging nobody's arrays.
	pol, err := ipc.NewPolicy(s.ApacheUsers, time.Duration(s.MinAge))
	if err != nil {
		var pe *ipc.PolicyError
		option := "apache_users"
		if errors.As(err, &pe) && pe.Field == ipc.FieldMinAge {
			option = "min_age"
		}
		return fmt.Errorf("%w: %s: %w", errConfig, option, err)
	}
	// The neighbours root declared for the handler count here too, so
	// that the stale count is what the handler would remove.
	if s.PolicyFile != "" {
		pf, err := ipc.LoadPolicyFile(s.PolicyFile)
		if err != nil {
			return fmt.Errorf("%w: policy_file: %w", errConfig, err)
		}
		pol.Neighbours = pf.NeighbourSet()
	}
	s.policy = pol
	if s.Namespaces != "self" && s.Namespaces != "all" {
		return fmt.Errorf("%w: namespaces: %q, want \"self\" or \"all\"", errConfig, s.Namespaces)
	}
	if s.MaxArrays < 1 {
		return fmt.Errorf("%w: max_arrays: %d, want at least 1", errConfig, s.MaxArrays)
	}
	fs, err := ipc.NewDefaultFS()
	if err != nil {
		return err
	}
	s.fs = fs
	if s.now == nil {
		s.now = time.Now
	}
	return nil
}

// inputsCreator returns the input with its defaults, the values
// sample.conf shows commented out.
func inputsCreator() *SysVIPC {
	return &SysVIPC{
		Collect:     []string{"sem", "shm", "msg"},
		ApacheUsers: slices.Clone(ipc.DefaultApacheUsers),
		MinAge:      config.Duration(ipc.DefaultMinAge),
		MaxArrays:   1000,
		Namespaces:  "self",
		PolicyFile:  ipc.DefaultPolicyFile,
		StateDir:    ipc.DefaultStateDir,
	}
}

func init() {
	inputs.Add("sysvipc", func() telegraf.Input { return inputsCreator() })
}
