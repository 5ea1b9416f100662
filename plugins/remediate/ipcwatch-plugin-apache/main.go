// Command ipcwatch-plugin-apache is the remediation plugin for semaphore
// arrays leaked by Apache. It only serves package leaks over go-plugin;
// ipcwatch-remediate starts it.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/ipcwatch/ipcwatch/plugins/remediate"
	"github.com/ipcwatch/ipcwatch/plugins/remediate/leaks"
)

func main() {
	sys, err := leaks.NewLive()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  remediate.Handshake,
		VersionedPlugins: remediate.VersionedPlugins(&leaks.Remediator{Sys: sys, Now: time.Now}),
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
