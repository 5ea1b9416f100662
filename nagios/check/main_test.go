package check

import (
	"path/filepath"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// binDir holds the built programs; golden and end-to-end tests run the
// real check_sysvipc, as Nagios does.
var binDir string

func TestMain(m *testing.M) { ipctest.Main(m, &binDir) }

func checkBinPath() string { return filepath.Join(binDir, "check_sysvipc") }
