// Package remediate is the one package both sides of the remediation
// boundary import: the Remediator interface, the go-plugin handshake and
// plugin set, and the gRPC adapters between them (hashicorp/go-plugin's
// examples/grpc/shared layout). The host is plugins/remediate/ipcwatch-remediate; the
// plugin is plugins/remediate/ipcwatch-plugin-apache.
package remediate
