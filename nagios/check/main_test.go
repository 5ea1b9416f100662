package check

import (
	"fmt"
	"os"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// checkBin is the built check_sysvipc: golden and end-to-end tests run the
// real binary, as Nagios does.
var checkBin string

func TestMain(m *testing.M) {
	ipctest.HelperMain()
	path, cleanup, err := ipctest.BuildBinary("nagios/check_sysvipc", "check_sysvipc")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	checkBin = path
	code := m.Run()
	if !ipctest.Inside() {
		cleanup()
	}
	os.Exit(code)
}
