package check

import (
	"testing"

	"github.com/ipcwatch/ipcwatch/nagios/nagrange"
	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// TestSEMMNIZero: with kernel.sem's fourth number 0 no array can be made
// and Apache cannot start. The check says so: CRITICAL, the table full,
// never "OK - 0/0 (0.0%)".
func TestSEMMNIZero(t *testing.T) {
	o, err := parseArgs(nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := evaluate(o, sysvipc.Usage{}, sysvipc.Limits{SEMMSL: 250, SEMMNS: 32000, SEMOPM: 32, SEMMNI: 0, SHMMNI: 4096, MSGMNI: 32000}, nil)
	sem := rs[0]
	if sem.state != nagrange.Critical || sem.summary() != "0/0 semaphore arrays (100.0%)" {
		t.Errorf("SEMMNI 0: %s %q, want CRITICAL \"0/0 semaphore arrays (100.0%%)\"", sem.state, sem.summary())
	}
	if rs[2].state != nagrange.OK {
		t.Errorf("shm segments at 0 of 4096: %s", rs[2].state)
	}
}
