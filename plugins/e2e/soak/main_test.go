// The chaos soak: a seeded, reproducible schedule of faults under load,
// in private IPC, PID, mount and network namespaces. Real Apache 2.4
// instances (some with the unit drop-in's start hooks, some without)
// serve loopback HTTP while they are SIGKILLed (master, workers, whole
// group), killed by the kernel's OOM killer in a memory cgroup of their
// own, restarted gracefully and started slowly through a pass-phrase
// dialog, while the wall clock steps and php-fpm, nginx and www-data
// jobs come and go. The installed event handler runs through the real
// sudo as nagios at random moments, the installed check as nagios, the
// Telegraf shim and a real Telegraf gather all the time, and the
// invariants (no live array removed, no healthy process killed, every
// provable leak gone, true numbers) are checked throughout.
package soak

import (
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// binDir holds the built programs, laid out as make build's bin/.
var binDir string

func TestMain(m *testing.M) { ipctest.Main(m, &binDir) }
