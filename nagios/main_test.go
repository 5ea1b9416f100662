package nagios

import (
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// binDir holds the built programs, laid out as make build's bin/.
var binDir string

func TestMain(m *testing.M) { ipctest.Main(m, &binDir) }
