package deployed

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// deployedObjects: one service from the shipped template; the only edits
// are the intervals (interval_length=1 makes them seconds).
const deployedObjects = nagiosBase + `define service {
    use                   sysvipc-service
    host_name             web1
    check_interval        2
    retry_interval        1
    check_period          24x7
    contacts              admin
    notification_period   24x7
}
`

// TestNagiosDeployed is the loop as a Debian install runs it: make install
// into a fresh root, Nagios 4 running as the nagios user with the shipped
// commands and service template (only paths and intervals set), the installed check (its
// file capability lets nagios measure), the event handler through the
// real `sudo -n` under the installed sudoers rule, and root's policy in
// the installed remediate.conf (min_age 0s: the leak is seconds old).
// Three SIGKILLed Apaches fill SEMMNI; the service goes CRITICAL, the
// handler removes exactly the leaked arrays at HARD, the service is OK
// again, the audit names the nagios user, and Apache starts and answers.
func TestNagiosDeployed(t *testing.T) {
	_, err := exec.LookPath("nagios4")
	ipctest.Require(t, err == nil, "needs Debian's nagios4-core (make deps)")
	if !ipctest.Enter(t) {
		return
	}
	root := installed(t)
	asInstalledHost(t, root)
	ap := leakGenerations(t, 3)
	if err := ap.Start(); err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Fatalf("apache with SEMMNI full: %v", err)
	}

	dir, err := os.MkdirTemp("", "ipcwatch-nagios-")
	must(t, err)
	defer os.RemoveAll(dir)
	uid, gid := ipctest.Account(t, "nagios", 0)
	must(t, os.Mkdir(filepath.Join(dir, "checkresults"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "objects.cfg"), []byte(deployedObjects), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "resource.cfg"), []byte("$USER1$="+filepath.Join(root, "usr/lib/nagios/plugins")+"\n"), 0o600))
	cfg := "cfg_file=" + filepath.Join(root, "etc/nagios-plugins/config/sysvipc.cfg") + "\ncfg_file=" + filepath.Join(root, "usr/share/doc/ipcwatch/examples/nagios/services.cfg") + "\ncfg_file={{dir}}/objects.cfg\nresource_file={{dir}}/resource.cfg\n"
	must(t, os.WriteFile(filepath.Join(dir, "nagios.cfg"), []byte(nagiosConfig(dir, cfg, "nagios")), 0o644))
	for _, p := range []string{dir, filepath.Join(dir, "checkresults")} {
		must(t, os.Chown(p, uid, gid))
	}
	nagios := startDaemon(t, "nagios4", filepath.Join(dir, "nagios.cfg"))
	recovered := regexp.MustCompile(`SERVICE ALERT: web1;SYSVIPC;OK;HARD;\d+;SYSVIPC OK - 0/9 semaphore arrays`)
	log := waitLog(filepath.Join(dir, "nagios.log"), recovered, 90*time.Second)
	nagios.stop()
	t.Logf("nagios.log:\n%s\nstdout:\n%s", log, nagios.out.String())
	for _, want := range []string{
		"SERVICE ALERT: web1;SYSVIPC;CRITICAL;HARD;3;SYSVIPC CRITICAL - 9/9 semaphore arrays (100.0%)",
		"SERVICE EVENT HANDLER: web1;SYSVIPC;CRITICAL;HARD;3;ipcwatch-remediate",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("nagios.log lacks %q", want)
		}
	}
	if !recovered.MatchString(log) {
		t.Errorf("the service did not return to OK with 0/9 arrays")
	}
	notAsRoot(t, "nagios4")

	// The installed handler's audit log: every call by nagios through
	// sudo, nine removals in all.
	if calls, removed := installedAudit(t); calls == 0 || removed != 9 {
		t.Errorf("audit log: %d calls, %d removals; want 9 removals", calls, removed)
	}
	answers(t, ap, "after the handler ran")

	// The negative paths, as nagios through the same sudo rule.
	handler := filepath.Join(root, "usr/sbin/ipcwatch-remediate")
	sudo := func(args ...string) (string, int) {
		t.Helper()
		return runAs(t, uid, gid, "", "/usr/bin/sudo", append([]string{"-n", handler}, args...)...)
	}
	act := []string{"--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3"}
	for _, flag := range []string{"--plugin", "--audit-log", "--lock", "--policy", "--manifest"} {
		if out, code := sudo(append(slices.Clone(act), flag, "/tmp/x")...); code != 2 || !strings.Contains(out, flag+": not allowed through sudo") {
			t.Errorf("%s through sudo: exit %d, %s", flag, code, out)
		}
	}
	// A plugin writable by its group is refused, and the audit says why.
	plugin := filepath.Join(root, "usr/lib/ipcwatch/ipcwatch-plugin-apache")
	must(t, os.Chmod(plugin, 0o775))
	got, code := sudo(act...)
	must(t, os.Chmod(plugin, 0o755))
	if code != 1 || !strings.Contains(got, "untrusted plugin: "+plugin+" is writable by group or others (mode 0775)") {
		t.Errorf("a group-writable plugin: exit %d, %s", code, got)
	}
	if b, err := os.ReadFile("/var/log/ipcwatch/remediate.jsonl"); err != nil || !strings.Contains(string(b), `"error":"untrusted plugin: `+plugin+` is writable by group or others (mode 0775)"`) {
		t.Errorf("the audit log does not say why the plugin was refused: %v", err)
	}
	// A second handler while one holds the lock exits at once, cleanly.
	lock, err := os.OpenFile("/run/ipcwatch-remediate.lock", os.O_CREATE|os.O_RDWR, 0o600)
	must(t, err)
	must(t, unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	got, code = sudo(act...)
	lock.Close()
	if code != 1 || !strings.Contains(got, "another ipcwatch-remediate is running (lock /run/ipcwatch-remediate.lock held)") {
		t.Errorf("with the lock held: exit %d, %s", code, got)
	}
}
