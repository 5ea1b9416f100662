// The start-hooks suite: the remediation handler's systemd start hooks
// (--before-start, --after-start) run the way a unit runs them, around
// real Apache 2.4 starts and crashes, in private IPC, PID, mount and
// network namespaces: a crash loop beside another instance, a start
// concurrent with another's, the orphans of a KillMode=process unit, a
// lost record, and the event handler beside PHP-FPM and other www-data
// processes with the units' records.
package hooks

import (
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// binDir holds the built host, plugin and SHA256SUMS, laid out as make
// build lays out bin/.
var binDir string

func TestMain(m *testing.M) { ipctest.Main(m, &binDir) }
