package hooks

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestHooksRootOnly: the hooks write the records that let the plugin
// remove arrays beside running servers, so the monitoring user may not
// run them through its sudo rule, nor anyone but root directly. Both are
// refused with exit 2 and write nothing.
func TestHooksRootOnly(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	sudo := ipctest.ViaSudo(t, filepath.Join(binDir, "ipcwatch-remediate"))
	for _, args := range [][]string{
		{"--before-start", "--unit", "apache2.service"},
		{"--after-start", "--unit", "apache2.service", "--main-pid", "1"},
	} {
		out, code := sudo(args...)
		if code != 2 || !strings.Contains(out, "not allowed through sudo") {
			t.Errorf("through sudo %v: exit %d, %s", args, code, out)
		}
		cmd := exec.Command(filepath.Join(binDir, "ipcwatch-remediate"), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, code = ipctest.RunLogged(t, cmd)
		if code != 2 || !strings.Contains(out, "root only") {
			t.Errorf("as nobody %v: exit %d, %s", args, code, out)
		}
	}
	if _, err := os.Stat("/run/ipcwatch/units"); err == nil {
		t.Error("a refused hook created the state directory")
	}
	// As root, a bad command line still exits 0: a hook never fails the
	// unit's start.
	out, code := ipctest.RunLogged(t, exec.Command(filepath.Join(binDir, "ipcwatch-remediate"), "--before-start", "--unit", "../etc/passwd"))
	if code != 0 || !strings.Contains(out, "is not a systemd unit name") {
		t.Errorf("root, bad --unit: exit %d, %s", code, out)
	}
}
