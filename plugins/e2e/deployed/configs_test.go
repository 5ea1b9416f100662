package deployed

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// icingaConf uses every shipped object the way a zone would.
const icingaConf = `const PluginDir = "/usr/lib/nagios/plugins"
include <itl>
include <plugins>
include "{{conf}}"
object Host "web1" {
  address = "127.0.0.1"
  check_command = "dummy"
}
object Service "sysvipc" {
  host_name = "web1"
  check_command = "{{check}}"
  event_command = "sysvipc-remediate"
  vars.sysvipc_stale_critical = "50"
  vars.sysvipc_remediate_dry_run = true
}
`

// TestIcinga2Definitions: the CheckCommand and EventCommand load and
// validate in a real Icinga 2 (icinga2 daemon -C), and a wrong reference
// does not, so the check can fail.
func TestIcinga2Definitions(t *testing.T) {
	_, err := exec.LookPath("icinga2")
	ipctest.Require(t, err == nil, "needs Debian's icinga2-bin (make deps)")
	conf, err := filepath.Abs(filepath.Join("..", "..", "..", "nagios", "shipped", "icinga2", "sysvipc.conf"))
	if err != nil {
		t.Fatal(err)
	}
	validate := func(check string) (string, error) {
		path := filepath.Join(ipctest.WorldReadableDir(t, "ipcwatch-nagios-"), "icinga2.conf")
		body := strings.NewReplacer("{{conf}}", conf, "{{check}}", check).Replace(icingaConf)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("icinga2", "daemon", "-C", "-c", path).CombinedOutput()
		return string(out), err
	}
	out, err := validate("sysvipc")
	if err != nil || !strings.Contains(out, "Instantiated 1 EventCommand") || !strings.Contains(out, "Finished validating the configuration file(s).") {
		t.Errorf("shipped definitions do not validate: %v\n%s", err, out)
	}
	if out, err := validate("sysvipc-missing"); err == nil {
		t.Errorf("a service with an unknown CheckCommand validated:\n%s", out)
	}
}

// nagiosBase is the least Nagios needs around a service: a timeperiod, a
// command that does nothing, a contact and a host.
const nagiosBase = `define timeperiod {
    timeperiod_name 24x7
    alias           always
    sunday          00:00-24:00
    monday          00:00-24:00
    tuesday         00:00-24:00
    wednesday       00:00-24:00
    thursday        00:00-24:00
    friday          00:00-24:00
    saturday        00:00-24:00
}
define command {
    command_name    nothing
    command_line    /bin/true
}
define contact {
    contact_name                  admin
    host_notifications_enabled    0
    service_notifications_enabled 0
    host_notification_period      24x7
    service_notification_period   24x7
    host_notification_options     n
    service_notification_options  n
    host_notification_commands    nothing
    service_notification_commands nothing
}
define host {
    host_name             web1
    address               127.0.0.1
    check_command         nothing
    max_check_attempts    1
    check_period          24x7
    contacts              admin
    notification_period   24x7
}
`

// nagiosObjects adds a service from the shipped template.
const nagiosObjects = nagiosBase + `define service {
    use                   {{template}}
    host_name             web1
    check_period          24x7
    contacts              admin
    notification_period   24x7
}
`

// TestNagiosDefinitions: the shipped commands and service template pass
// Nagios 4's pre-flight check (nagios4 -v), and a wrong template does not.
func TestNagiosDefinitions(t *testing.T) {
	_, err := exec.LookPath("nagios4")
	ipctest.Require(t, err == nil, "needs Debian's nagios4-core (make deps)")
	commands, err := filepath.Abs(filepath.Join("..", "..", "..", "nagios", "shipped", "nagios", "commands.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	services, err := filepath.Abs(filepath.Join("..", "..", "..", "nagios", "shipped", "nagios", "services.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	verify := func(template string) (string, error) {
		dir := ipctest.WorldReadableDir(t, "ipcwatch-nagios-")
		objects := filepath.Join(dir, "objects.cfg")
		if err := os.WriteFile(objects, []byte(strings.ReplaceAll(nagiosObjects, "{{template}}", template)), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := "cfg_file=" + objects + "\ncfg_file=" + commands + "\ncfg_file=" + services + "\nresource_file=" + filepath.Join(dir, "resource.cfg") +
			"\ncheck_result_path=" + dir + "\nlock_file=" + filepath.Join(dir, "lock") +
			"\nnagios_user=root\nnagios_group=root\n" // no drop to the nagios user: the temp dir is root's
		for name, body := range map[string]string{"nagios.cfg": cfg, "resource.cfg": "$USER1$=/usr/lib/nagios/plugins\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, err := exec.Command("nagios4", "-v", filepath.Join(dir, "nagios.cfg")).CombinedOutput()
		return string(out), err
	}
	out, err := verify("sysvipc-service")
	if err != nil || !strings.Contains(out, "Total Errors:   0") || !strings.Contains(out, "Checked 4 commands.") {
		t.Errorf("shipped definitions fail nagios4 -v: %v\n%s", err, out)
	}
	if out, err := verify("no-such-template"); err == nil {
		t.Errorf("a service with an unknown template passed:\n%s", out)
	}
}
