// The deployed suite: what make install puts in place, run as the users
// that run it (nagios, telegraf, root through the real sudo), under the
// real monitoring daemons (Nagios 4, Icinga 2, Telegraf) and beside a
// LAMP host's neighbours (nginx, php-fpm, a PHP queue worker), each test
// in private IPC, PID, mount and network namespaces.
package deployed

import (
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// binDir holds the built programs, laid out as make build's bin/.
var binDir string

func TestMain(m *testing.M) { ipctest.Main(m, &binDir) }
