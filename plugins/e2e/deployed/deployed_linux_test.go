package deployed

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// installed runs make install into a fresh root and returns it: PREFIX
// and SYSCONFDIR point into it, so every installed file names the others
// by their real paths there (the Nagios and Icinga definitions, the
// sudoers rule, the handler's policy file). The tests below use only what
// it put there. With IPCWATCH_INSTALLED_ROOT set, the tests run on a
// system the package was installed into (.ci/package-test.sh runs this
// suite inside a Debian root after apt-get install of the .deb), and use
// what the package put in place instead.
func installed(t *testing.T) string {
	t.Helper()
	if root := os.Getenv("IPCWATCH_INSTALLED_ROOT"); root != "" {
		return root
	}
	root := ipctest.WorldReadableDir(t, "ipcwatch-root-")
	cmd := exec.Command("make", "--no-print-directory", "-C", "../../..", "install", "PREFIX="+filepath.Join(root, "usr"),
		"SYSCONFDIR="+filepath.Join(root, "etc"), "BIN="+filepath.Join(root, "build"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	return root
}

func runAs(t *testing.T, uid, gid int, stdin string, name string, args ...string) (string, int) {
	t.Helper()
	return runAsIn(t, uid, gid, stdin, nil, name, args...)
}

// runAsEnv is runAs with one more environment variable ("" for none).
func runAsEnv(t *testing.T, uid, gid int, env string, name string, args ...string) (string, int) {
	t.Helper()
	var extra []string
	if env != "" {
		extra = []string{env}
	}
	return runAsIn(t, uid, gid, "", extra, name, args...)
}

func runAsIn(t *testing.T, uid, gid int, stdin string, env []string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Dir = "/"
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("uid %d: %s %s -> %d\n%s", uid, name, strings.Join(args, " "), code, out)
	return string(out), code
}

// TestDeployedUnprivileged: what make install puts in place measures as
// the users that run it. Two SIGKILLed Apaches leave six arrays, made by
// root and owned by www-data; the installed check, run as nagios, counts
// them stale (its file capability lets semctl read them), and the
// installed shim, run as telegraf with the installed config, reports
// them. A copy of the check without the capability says the stale count
// was not measured, instead of a zero.
func TestDeployedUnprivileged(t *testing.T) {
	requireTelegraf(t)
	if !ipctest.Enter(t) {
		return
	}
	root := installed(t)
	nagiosUID, nagiosGID := ipctest.Account(t, "nagios", 0)
	telegrafUID, telegrafGID := ipctest.Account(t, "telegraf", 60999)
	if nagiosUID == 0 {
		t.Fatal("Debian's nagios4-core makes the nagios user (make deps)")
	}
	if err := ipctest.SetSemLimits(250, 32000, 32, 2*ipctest.ArraysPerApacheStart); err != nil {
		t.Fatal(err)
	}
	ap := ipctest.NewApache(t)
	for range 2 {
		if err := ap.Start(); err != nil {
			t.Fatal(err)
		}
		if err := ipctest.KillAll(); err != nil {
			t.Fatal(err)
		}
	}

	check := filepath.Join(root, "usr/lib/nagios/plugins/check_sysvipc")
	out, code := runAs(t, nagiosUID, nagiosGID, "", check, "--stale-warning", "0", "--stale-critical", "5", "--min-age", "0s")
	if code != 2 || !strings.HasPrefix(out, "SYSVIPC CRITICAL - 6/6 semaphore arrays (100.0%), 6 stale apache arrays |") || !strings.Contains(out, " stale_arrays=6;0;5;0;") {
		t.Errorf("the installed check as nagios: exit %d, %s", code, out)
	}
	bare := filepath.Join(root, "check_sysvipc-without-capability")
	b, err := os.ReadFile(check)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bare, b, 0o755); err != nil {
		t.Fatal(err)
	}
	// SEMMNI is full, a measured CRITICAL that the unmeasured stale count
	// does not hide.
	out, code = runAs(t, nagiosUID, nagiosGID, "", bare, "--stale-warning", "0", "--min-age", "0s")
	if code != 2 || !strings.Contains(out, "stale apache arrays not measured: 6 apache arrays unreadable as uid") || strings.Contains(out, "stale_arrays=") {
		t.Errorf("without the capability: exit %d, %s", code, out)
	}

	// The shim as Telegraf's execd runs it, with the installed config
	// (only min_age lowered, the leak being seconds old).
	conf, err := os.ReadFile(filepath.Join(root, "etc/ipcwatch/telegraf-sysvipc.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), `# min_age = "5m"`) {
		t.Fatalf("the installed config has no min_age line to lower:\n%s", conf)
	}
	lowered := filepath.Join(root, "telegraf-sysvipc-min-age-0.conf")
	if err := os.WriteFile(lowered, []byte(strings.Replace(string(conf), `# min_age = "5m"`, `min_age = "0s"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	shim := filepath.Join(root, "usr/bin/ipcwatch-telegraf")
	sem := gatherAs(t, telegrafUID, telegrafGID, shim, "-config", lowered, "-poll_interval_disabled")
	if !strings.Contains(sem, "stale_arrays=6i") || !strings.Contains(sem, "unjudged_arrays=0i") || !strings.Contains(sem, "arrays=6i") {
		t.Errorf("the installed shim as telegraf: %s", sem)
	}

	// A real Telegraf as telegraf with the installed [[inputs.execd]]
	// snippet as it is (min_age 5m: the seconds-old leak is judged, not
	// yet stale: a measured 0, and nothing unjudged).
	line := realTelegrafAs(t, root, telegrafUID, telegrafGID)
	if !strings.Contains(line, "stale_arrays=0i") || !strings.Contains(line, "unjudged_arrays=0i") || !strings.Contains(line, "arrays=6i") {
		t.Errorf("Telegraf as telegraf with the installed snippet: %s", line)
	}
}

// requireTelegraf fails (or skips, outside CI) a test that runs the
// Telegraf make telegraf built when IPCWATCH_TELEGRAF names none.
func requireTelegraf(t *testing.T) {
	t.Helper()
	bin := os.Getenv("IPCWATCH_TELEGRAF")
	_, err := os.Stat(bin)
	ipctest.Require(t, bin != "" && err == nil, "needs a Telegraf binary in IPCWATCH_TELEGRAF (make telegraf)")
}

// realTelegrafAs runs the Telegraf that make telegraf built, as a user,
// with the installed execd snippet and a file output, and returns the
// first sysvipc_sem line it writes.
func realTelegrafAs(t *testing.T, root string, uid, gid int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ipcwatch-telegraf-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b, err := os.ReadFile(os.Getenv("IPCWATCH_TELEGRAF"))
	if err != nil {
		t.Fatal(err)
	}
	telegraf := filepath.Join(dir, "telegraf")
	if err := os.WriteFile(telegraf, b, 0o755); err != nil {
		t.Fatal(err)
	}
	snippet, err := os.ReadFile(filepath.Join(root, "etc/telegraf/telegraf.d/ipcwatch.conf"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "metrics.out")
	conf := "[agent]\n  interval = \"1s\"\n  flush_interval = \"1s\"\n  omit_hostname = true\n\n" + string(snippet) +
		"\n[[outputs.file]]\n  files = [\"" + out + "\"]\n  data_format = \"influx\"\n"
	confPath := filepath.Join(dir, "telegraf.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(telegraf, "--config", confPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Dir = dir
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		b, _ := os.ReadFile(out)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "sysvipc_sem ") {
				t.Logf("Telegraf as uid %d: %s", uid, l)
				return l
			}
		}
	}
	t.Fatalf("Telegraf as uid %d wrote no sysvipc_sem in 30s:\n%s", uid, log.String())
	return ""
}

// gatherAs runs the shim as execd with signal = "STDIN" does, as a user,
// and returns its sysvipc_sem line.
func gatherAs(t *testing.T, uid, gid int, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Dir = "/"
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, stdout := ipctest.StartPiped(t, cmd)
	kill := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
	defer kill.Stop()
	if _, err := stdin.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	line := ""
	for sc := bufio.NewScanner(stdout); sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "sysvipc_sem ") {
			line = sc.Text()
			break
		}
	}
	stdin.Close()
	_ = cmd.Wait()
	t.Logf("uid %d: %s -> %s\n%s", uid, name, line, stderr.String())
	return line
}
