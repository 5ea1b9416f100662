package main

import (
	"path/filepath"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// binDir holds the built programs; the tests run ipcwatch-telegraf the way
// inputs.execd runs it.
var binDir string

func TestMain(m *testing.M) { ipctest.Main(m, &binDir) }

func shimBinPath() string { return filepath.Join(binDir, "ipcwatch-telegraf") }
