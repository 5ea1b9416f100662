//go:build !linux

// Package sysvipc is a Telegraf input for System V IPC; Linux only.
package sysvipc

import (
	_ "embed"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/inputs"
)

//go:embed sample.conf
var sampleConfig string

// SysVIPC does nothing off Linux.
type SysVIPC struct {
	Log telegraf.Logger `toml:"-"`
}

// SampleConfig returns the embedded sample.conf.
func (*SysVIPC) SampleConfig() string { return sampleConfig }

// Init warns that the platform has no /proc/sysvipc.
func (s *SysVIPC) Init() error {
	s.Log.Warn("Current platform is not supported")
	return nil
}

// Gather does nothing.
func (*SysVIPC) Gather(telegraf.Accumulator) error { return nil }

func init() {
	inputs.Add("sysvipc", func() telegraf.Input { return &SysVIPC{} })
}
