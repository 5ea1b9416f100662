package remediate

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/ipcwatch/ipcwatch/plugins/remediate/proto"
)

// PluginName is the name plugins are dispensed by.
const PluginName = "remediator"

// Handshake is shared by host and plugins. It is not security (the host
// checks the plugin's sha256 for that); it keeps a plugin binary run by
// hand from starting a gRPC server on a terminal.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  2,
	MagicCookieKey:   "IPCWATCH_REMEDIATE_PLUGIN",
	MagicCookieValue: "3b0d5c4e-leaked-semaphores",
}

// VersionedPlugins maps protocol versions to plugin sets: version 2 is
// the gRPC Remediator whose plugin owns the whole protocol (version 1
// had the host drive Plan and Apply, and is gone).
func VersionedPlugins(impl Remediator) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		2: {PluginName: &GRPCPlugin{Impl: impl}},
	}
}

// GRPCPlugin is the go-plugin glue for Remediator.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Remediator // set on the plugin side only
}

// GRPCServer registers the implementation on the plugin side.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	proto.RegisterRemediatorServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns the host's Remediator over the connection.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &grpcClient{client: proto.NewRemediatorClient(c)}, nil
}
