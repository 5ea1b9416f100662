// Package ipctest makes real System V IPC objects for tests and benchmarks,
// and runs a test's body inside private IPC and PID namespaces so nothing
// it creates or removes touches the host's own objects.
package ipctest
