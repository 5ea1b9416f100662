package deployed

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// icingaDeployed: the shipped CheckCommand and EventCommand included as
// they are; the only edits are paths and intervals. The compat logger
// writes Icinga's own Nagios-style alert and event handler lines.
const icingaDeployed = `const PluginDir = "{{plugins}}"
include <itl>
include "{{contrib}}/sysvipc.conf"
object IcingaApplication "app" { enable_event_handlers = true }
object CheckerComponent "checker" {}
object FileLogger "main-log" { severity = "information"; path = "{{dir}}/log/icinga2.log" }
object CompatLogger "compatlog" { log_dir = "{{dir}}/compat"; rotation_method = "DAILY" }
object Host "web1" { address = "127.0.0.1"; check_command = "dummy" }
object Service "sysvipc" {
  host_name = "web1"
  check_command = "sysvipc"
  event_command = "sysvipc-remediate"
  max_check_attempts = 3
  check_interval = 2s
  retry_interval = 1s
}
`

// TestIcingaDeployed is the same story under a real Icinga 2 daemon
// (Debian's icinga2-bin) running as the nagios user: the installed check
// goes CRITICAL over a full SEMMNI, Icinga runs the shipped EventCommand
// through sudo, the leak goes, the service is OK, and Apache starts.
// Icinga's own compat log and state file say so.
func TestIcingaDeployed(t *testing.T) {
	_, err := exec.LookPath("icinga2")
	ipctest.Require(t, err == nil, "needs Debian's icinga2-bin (make deps)")
	if !ipctest.Enter(t) {
		return
	}
	root := installed(t)
	asInstalledHost(t, root)
	ap := leakGenerations(t, 3)

	dir, err := os.MkdirTemp("", "ipcwatch-icinga-")
	must(t, err)
	defer os.RemoveAll(dir)
	uid, gid := ipctest.Account(t, "nagios", 0)
	for _, sub := range []string{"log", "compat", "state", "cache", "spool", "run/icinga2"} {
		must(t, os.MkdirAll(filepath.Join(dir, sub), 0o755))
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{contrib}}", filepath.Join(root, "usr/share/icinga2/include/plugins-contrib.d"),
		"{{plugins}}", filepath.Join(root, "usr/lib/nagios/plugins")).Replace(icingaDeployed)
	must(t, os.WriteFile(filepath.Join(dir, "icinga2.conf"), []byte(conf), 0o644))
	must(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	}))
	icinga := startDaemon(t, "icinga2", "daemon", "-c", filepath.Join(dir, "icinga2.conf"),
		"-DRunAsUser=nagios", "-DRunAsGroup=nagios", "-DDataDir="+filepath.Join(dir, "state"),
		"-DLogDir="+filepath.Join(dir, "log"), "-DCacheDir="+filepath.Join(dir, "cache"),
		"-DSpoolDir="+filepath.Join(dir, "spool"), "-DInitRunDir="+filepath.Join(dir, "run"))
	recovered := regexp.MustCompile(`SERVICE ALERT: web1;sysvipc;OK;HARD;\d+;SYSVIPC OK - 0/9 semaphore arrays`)
	log := waitLog(filepath.Join(dir, "compat", "icinga.log"), recovered, 90*time.Second)
	notAsRoot(t, "icinga2")
	icinga.stop()
	t.Logf("icinga.log (compat):\n%s\ndaemon:\n%s", log, icinga.out.String())
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`SERVICE ALERT: web1;sysvipc;CRITICAL;HARD;\d+;SYSVIPC CRITICAL - 9/9 semaphore arrays \(100\.0%\)`),
		regexp.MustCompile(`SERVICE EVENT HANDLER: web1;sysvipc;CRITICAL;HARD;\d+;sysvipc-remediate`),
		recovered,
	} {
		if !want.MatchString(log) {
			t.Errorf("Icinga's compat log lacks %s", want)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "state", "icinga2.state")); err != nil || st.Size() == 0 {
		t.Errorf("Icinga wrote no state file: %v", err)
	}

	if _, removed := installedAudit(t); removed != 9 {
		t.Errorf("audit log records %d removals, want 9", removed)
	}
	answers(t, ap, "after the event command ran")
}
