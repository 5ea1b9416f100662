// The remediation-safety suite: each test is one scenario in which a
// handler could remove a live mutex or kill a healthy process, run with
// real Apache 2.4 in private IPC, PID, mount and network namespaces, with
// the built handler called as Nagios calls it (and through the real sudo
// where the scenario is about the sudo path). A regression fails under the
// scenario's name.
package safety

import (
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// binDir holds the built host, plugin and SHA256SUMS, laid out as make
// build lays out bin/.
var binDir string

func TestMain(m *testing.M) { ipctest.Main(m, &binDir) }
