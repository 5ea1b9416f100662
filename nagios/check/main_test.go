package check

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// checkBin is the built check_sysvipc: golden and end-to-end tests run the
// real binary, as Nagios does.
var checkBin string

func TestMain(m *testing.M) {
	ipctest.HelperMain()
	dir, cleanup, err := ipctest.BuildBin()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	checkBin = filepath.Join(dir, "check_sysvipc")
	code := m.Run()
	cleanup()
	os.Exit(code)
}
