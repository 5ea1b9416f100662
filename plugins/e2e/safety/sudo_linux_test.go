package safety

import (
	"os"
	"strings"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestSudoBounds: the nagios user, through the real sudo and the rule make
// install writes, can neither widen whose arrays are judged nor slip a
// number past its bounds by overflowing it: --apache-user 4242 (which
// would remove an in-use array of that uid), --min-age 9223372036s (a
// negative age once wrapped) and --pid 4294967296 (0, the handler's own
// namespace, once truncated) are refused.
func TestSudoBounds(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	inUse := ipctest.StartHolder(t, 4242, false) // a live process's array of uid 4242
	left := ipctest.StartHolder(t, 4242, false)
	left.Stop() // and one its exited sibling left
	sudo := viaSudo(t)

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--apache-user", "4242"}, "--apache-user: not allowed through sudo"},
		{[]string{"--apache-user", "www-data,4242"}, "--apache-user: not allowed through sudo"},
		{[]string{"--min-age", "9223372036s"}, "--min-age: 2562047h47m16s is above the maximum 8760h0m0s"},
		{[]string{"--min-age", "1m"}, "--min-age: 1m0s is below 5m0s, not allowed through sudo"},
		{[]string{"--pid", "4294967296"}, "--pid: 4294967296 is not a process id (1 to 4194304)"},
		{[]string{"--pid", "4294967297"}, "--pid: 4294967297 is not a process id (1 to 4194304)"},
		{[]string{"--max-removals", "4294967296"}, "--max-removals: 4294967296 is above the maximum 2147483647"},
		{[]string{"--audit-log", "/etc/passwd"}, "--audit-log: not allowed through sudo"},
		// Together they once removed the exited sibling's array at once.
		{[]string{"--apache-user", "4242", "--min-age", "9223372036s"}, "--apache-user: not allowed through sudo"},
	} {
		out, code := sudo(append(append([]string{}, act...), tt.args...)...)
		if code != 2 || !strings.Contains(out, tt.want) {
			t.Errorf("%v through sudo: exit %d, %q; want exit 2 and %q", tt.args, code, out, tt.want)
		}
	}
	wantArrays(t, []int32{inUse.ID, left.ID}, "uid 4242's")
	if _, err := os.Stat("/var/log/ipcwatch/remediate.jsonl"); err == nil {
		t.Errorf("a refused call wrote the audit log")
	}

	// The plain call works through sudo and is audited; it leaves uid
	// 4242's arrays, which are no Apache user's.
	out, code := sudo(act...)
	if code != 0 || !strings.Contains(out, "removed 0 of 0 stale arrays") {
		t.Errorf("the plain call through sudo: exit %d, %s", code, out)
	}
	wantArrays(t, []int32{inUse.ID, left.ID}, "uid 4242's")
	if _, err := os.Stat("/var/log/ipcwatch/remediate.jsonl"); err != nil {
		t.Errorf("the call through sudo left no audit line: %v", err)
	}
	if out, code := sudo("--help"); code != 3 || !strings.HasPrefix(out, "usage: ipcwatch-remediate") {
		t.Errorf("--help through sudo: exit %d, %s", code, out)
	}
}
