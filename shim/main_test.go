package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// shimBin is the built ipcwatch-telegraf, run the way inputs.execd runs it.
var shimBin string

func TestMain(m *testing.M) {
	ipctest.HelperMain()
	dir, cleanup, err := ipctest.BuildBin()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	shimBin = filepath.Join(dir, "ipcwatch-telegraf")
	code := m.Run()
	cleanup()
	os.Exit(code)
}
