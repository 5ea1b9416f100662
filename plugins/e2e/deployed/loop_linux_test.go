package deployed

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// loopObjects: one service running the built check every second
// (interval_length=1), with the built event handler; two attempts make a
// HARD state, the handler acts on CRITICAL HARD.
const loopObjects = nagiosBase + `define command {
    command_name    check_sysvipc
    command_line    {{bin}}/check_sysvipc --stale-warning 0 --min-age 0s
}
define command {
    command_name    ipcwatch-remediate
    command_line    {{bin}}/ipcwatch-remediate --state $SERVICESTATE$ --state-type $SERVICESTATETYPE$ --attempt $SERVICEATTEMPT$ --act-on-attempt 3 --min-age 0s --audit-log {{dir}}/audit.jsonl --lock {{dir}}/lock
}
define service {
    host_name             web1
    service_description   SYSVIPC
    check_command         check_sysvipc
    event_handler         ipcwatch-remediate
    event_handler_enabled 1
    max_check_attempts    2
    check_interval        2
    retry_interval        1
    check_period          24x7
    contacts              admin
    notification_period   24x7
}
`

// TestNagiosLoop is the whole loop under a real Nagios 4 in private IPC
// and PID namespaces with SEMMNI 9: Apache leaks its mutexes until it
// cannot start (three SIGKILLed generations, none running: the outage),
// check_sysvipc goes CRITICAL, Nagios runs the event handler (SOFT first:
// it does nothing; then HARD: it acts), the leaked arrays go, the service
// returns to OK, and Apache starts.
func TestNagiosLoop(t *testing.T) {
	_, err := exec.LookPath("nagios4")
	ipctest.Require(t, err == nil, "needs Debian's nagios4-core (make deps)")
	if !ipctest.Enter(t) {
		return
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	leakGenerations(t, 3)
	second := ipctest.NewApache(t)
	if err := second.Start(); err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Fatalf("apache at the limit: %v", err)
	}

	dir := t.TempDir()
	must(os.Mkdir(filepath.Join(dir, "checkresults"), 0o755))
	r := strings.NewReplacer("{{dir}}", dir, "{{bin}}", binDir)
	must(os.WriteFile(filepath.Join(dir, "objects.cfg"), []byte(r.Replace(loopObjects)), 0o644))
	must(os.WriteFile(filepath.Join(dir, "nagios.cfg"), []byte(nagiosConfig(dir, "cfg_file={{dir}}/objects.cfg\n", "root")), 0o644))
	nagios := startDaemon(t, "nagios4", filepath.Join(dir, "nagios.cfg"))
	recovered := regexp.MustCompile(`SERVICE ALERT: web1;SYSVIPC;OK;HARD;\d+;SYSVIPC OK - 0/9 semaphore arrays`)
	log := waitLog(filepath.Join(dir, "nagios.log"), recovered, 60*time.Second)
	nagios.stop()
	out := &nagios.out
	t.Logf("nagios.log:\n%s\nstdout:\n%s", log, out.String())
	for _, want := range []string{
		// Nagios logs no alert for the first SOFT state, only its handler.
		"SERVICE EVENT HANDLER: web1;SYSVIPC;CRITICAL;SOFT;1;ipcwatch-remediate",
		"SERVICE ALERT: web1;SYSVIPC;CRITICAL;HARD;2;SYSVIPC CRITICAL - 9/9 semaphore arrays (100.0%), 9 stale apache arrays",
		"SERVICE EVENT HANDLER: web1;SYSVIPC;CRITICAL;HARD;2;ipcwatch-remediate",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("nagios.log lacks %q", want)
		}
	}
	if !recovered.MatchString(log) {
		t.Errorf("the service did not return to OK with 0/9 arrays")
	}

	// The audit log: the SOFT call did nothing, the HARD one removed nine,
	// the call on recovery did nothing.
	f, err := os.Open(filepath.Join(dir, "audit.jsonl"))
	must(err)
	defer f.Close()
	var calls []map[string]any
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var rec map[string]any
		must(json.Unmarshal(sc.Bytes(), &rec))
		calls = append(calls, rec)
	}
	removed := 0
	for _, rec := range calls {
		acts, _ := rec["actions"].([]any)
		for _, a := range acts {
			if a.(map[string]any)["outcome"] == "removed" {
				removed++
			}
		}
	}
	if len(calls) != 3 || !strings.HasPrefix(calls[0]["trigger"].(map[string]any)["decision"].(string), "nothing to do") {
		t.Errorf("audit log has %d calls, want 3 (SOFT: nothing, HARD: act, OK: nothing): %v", len(calls), calls)
	}
	if removed != 9 {
		t.Errorf("audit log records %d removals, want 9: %v", removed, calls)
	}
	if err := second.Start(); err != nil {
		t.Errorf("apache after the handler ran: %v", err)
	}
	// Nothing left behind: Nagios stopped, its lock file gone.
	if _, err := os.Stat(filepath.Join(dir, "nagios.lock")); err == nil {
		t.Errorf("nagios left its lock file")
	}
}
