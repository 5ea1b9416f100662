package main

import (
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// binDir holds the built host, plugin and SHA256SUMS, laid out as make
// build lays out bin/.
var binDir string

func TestMain(m *testing.M) { ipctest.Main(m, &binDir) }
