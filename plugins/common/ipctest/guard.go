package ipctest

import "testing"

// Test support is for tests: a program that imports it by mistake stops
// at start instead of shipping helpers that make and remove IPC objects.
func init() {
	if !testing.Testing() {
		panic("ipctest is test support: import it only from tests")
	}
}
