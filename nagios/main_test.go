package nagios

import (
	"fmt"
	"os"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// binDir holds the built programs, laid out as make build's bin/.
var binDir string

func TestMain(m *testing.M) {
	ipctest.HelperMain()
	dir, cleanup, err := ipctest.BuildBin()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binDir = dir
	code := m.Run()
	cleanup()
	os.Exit(code)
}
