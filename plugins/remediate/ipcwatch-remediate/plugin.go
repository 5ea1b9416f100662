package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// callPlugin checks the plugin's trust, starts it and makes the one call.
func callPlugin(o options, path string, records map[string][]byte) (remediate.Report, error) {
	sum, err := trustPlugin(path, o.manifest)
	if err != nil {
		return remediate.Report{}, err
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  remediate.Handshake,
		VersionedPlugins: remediate.VersionedPlugins(nil),
		Cmd:              exec.Command(path),
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	defer client.Kill()
	conn, err := client.Client()
	if err != nil {
		return remediate.Report{}, fmt.Errorf("start plugin %s: %w", path, err)
	}
	raw, err := conn.Dispense(remediate.PluginName)
	if err != nil {
		return remediate.Report{}, fmt.Errorf("plugin %s: %w", path, err)
	}
	rep, err := raw.(remediate.Remediator).Remediate(remediate.Request{
		Policy: remediate.Policy{
			ApacheUsers: o.apacheUsers, MinAge: o.minAge, KillOrphans: o.killOrphans,
			MaxRemovals: o.maxRemovals, OrphanGrace: o.orphanGrace, PID: o.pid, Neighbours: o.neighbours,
		},
		DryRun: o.dryRun,
		Hook:   o.hook, Unit: o.unit, MainPID: o.mainPID, Records: records,
	})
	if err != nil {
		return rep, fmt.Errorf("plugin %s: %w", path, err)
	}
	return rep, nil
}
