//go:build linux

// Package sysvipc is a Telegraf input reporting System V IPC usage against
// the kernel's limits, per owner, and Apache's leaked semaphore arrays.
package sysvipc

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
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
	if s.ApacheUsers != nil && len(s.ApacheUsers) == 0 {
		return fmt.Errorf("%w: apache_users: empty list (leave it out for the defaults)", errConfig)
	}
	for _, u := range s.ApacheUsers {
		if u == "" {
			return fmt.Errorf("%w: apache_users: empty user name", errConfig)
		}
	}
	pol, err := s.judgingPolicy()
	if err != nil {
		return err
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

// judgingPolicy is the handler's policy as root's file sets it: its
// apache_users and min_age where this config sets none, and its declared
// neighbours, so that the stale count is what the handler would remove.
// The same refusal of an unknown user as the check and the plugin: a
// misspelled entry fails here instead of silently judging nobody's
// arrays.
func (s *SysVIPC) judgingPolicy() (ipc.Policy, error) {
	var pf *ipc.PolicyFile
	if s.PolicyFile != "" {
		var err error
		if pf, err = ipc.LoadPolicyFile(s.PolicyFile); err != nil {
			return ipc.Policy{}, fmt.Errorf("%w: policy_file: %w", errConfig, err)
		}
	}
	users, minAge := s.ApacheUsers, time.Duration(s.MinAge)
	if users == nil {
		users = pf.UsersOr(ipc.DefaultApacheUsers)
	}
	if s.MinAge == minAgeUnset {
		var err error
		if minAge, err = pf.MinAgeOr(ipc.DefaultMinAge); err != nil {
			return ipc.Policy{}, fmt.Errorf("%w: policy_file: %w", errConfig, err)
		}
	}
	pol, err := ipc.NewPolicy(users, minAge)
	if err != nil {
		var pe *ipc.PolicyError
		option := "apache_users"
		if errors.As(err, &pe) && pe.Field == ipc.FieldMinAge {
			option = "min_age"
		}
		return pol, fmt.Errorf("%w: %s: %w", errConfig, option, err)
	}
	pol.Neighbours = pf.NeighbourSet()
	return pol, nil
}

// minAgeUnset marks a config without min_age (0s is a choice): root's
// policy file, else the default, decides.
const minAgeUnset = math.MinInt64

// inputsCreator returns the input with its defaults, the values
// sample.conf shows commented out; apache_users and min_age left unset
// take root's policy file's, else the defaults sample.conf shows.
func inputsCreator() *SysVIPC {
	return &SysVIPC{
		Collect:    []string{"sem", "shm", "msg"},
		MinAge:     minAgeUnset,
		MaxArrays:  1000,
		Namespaces: "self",
		PolicyFile: ipc.DefaultPolicyFile,
		StateDir:   ipc.DefaultStateDir,
	}
}

func init() {
	inputs.Add("sysvipc", func() telegraf.Input { return inputsCreator() })
}
