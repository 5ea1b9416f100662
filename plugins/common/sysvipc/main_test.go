package sysvipc

import (
	"os"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

func TestMain(m *testing.M) {
	ipctest.HelperMain()
	os.Exit(m.Run())
}
