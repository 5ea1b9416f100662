package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// shimBin is the built ipcwatch-telegraf, run the way inputs.execd runs it.
var shimBin string

func TestMain(m *testing.M) {
	ipctest.HelperMain()
	path, cleanup, err := ipctest.BuildBinary("shim", "ipcwatch-telegraf")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	shimBin = path
	code := m.Run()
	if !ipctest.Inside() {
		cleanup()
	}
	os.Exit(code)
}
