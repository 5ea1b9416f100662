package safety

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// server is a running Apache with the arrays it made.
type server struct {
	*ipctest.Apache
	arrays []int32
}

// startServer starts ap and returns it with the arrays that appeared
// during its start.
func startServer(t *testing.T, ap *ipctest.Apache) server {
	t.Helper()
	before := ipctest.SemIDs(t)
	if err := ap.Start(); err != nil {
		t.Fatal(err)
	}
	return server{Apache: ap, arrays: slices.DeleteFunc(ipctest.SemIDs(t), func(id int32) bool { return slices.Contains(before, id) })}
}

// healthy fails unless every array of the server is still there, it
// answers plain HTTP (and TLS where it has it), and its error log has no
// mutex failure. Removing the accept mutex ends the whole server within
// half a second; removing the ssl-cache one fails every handshake's
// session caching with AH02026.
func (s server) healthy(t *testing.T, when string) {
	t.Helper()
	wantArrays(t, s.arrays, "the running server's, "+when)
	if code, err := s.Get("/index.html"); err != nil || code != 200 {
		t.Errorf("%s: HTTP %d, %v", when, code, err)
	}
	if s.TLSPort() != "" {
		if code, err := s.GetTLS("/index.html"); err != nil || code != 200 {
			t.Errorf("%s: HTTPS %d, %v", when, code, err)
		}
	}
	if errs := s.MutexErrors(); len(errs) > 0 {
		t.Errorf("%s: mutex errors in the error log:\n%s", when, strings.Join(errs, "\n"))
	}
}

// leakGeneration starts a default Apache and SIGKILLs it: three leaked
// arrays, as an OOM kill leaves them.
func leakGeneration(t *testing.T) []int32 {
	t.Helper()
	s := startServer(t, ipctest.NewApache(t))
	if err := ipctest.KillAll(); err != nil {
		t.Fatal(err)
	}
	return s.arrays
}

// acts runs the handler as Nagios does, as root with no minimum age (the
// widest a caller can make it), and wants exit 0 and nothing removed.
func actsRemovingNothing(t *testing.T, when string, extra ...string) {
	t.Helper()
	before := ipctest.SemIDs(t)
	out, code := handler(t, append(append(slices.Clone(act), "--min-age", "0s"), extra...)...)
	if code != 0 || !strings.Contains(out, "removed 0 of 0 stale arrays") {
		t.Errorf("%s: exit %d, %s", when, code, out)
	}
	wantArrays(t, before, when)
}

// slowStart is the scenario of a pass-phrase dialog that lasts delay:
// mod_ssl's session-cache mutex is made in the start-up process before
// the master forks, delay before the master's start. A rule that called
// it stale for predating every master would remove it, and every TLS
// handshake would then log AH02026. A leaked generation sits beside it all along and
// is not removable while the server runs; in the outage it goes.
func slowStart(t *testing.T, delay time.Duration) {
	if err := ipctest.SetSemLimits(250, 32000, 32, 64); err != nil {
		t.Fatal(err)
	}
	leaked := leakGeneration(t)
	ap := ipctest.NewApacheWith(t, ipctest.ApacheOptions{TLS: true, PassPhraseDelay: delay})
	before := ipctest.SemIDs(t)
	start, err := ap.StartAsync()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := start.WaitPassPhraseDialog(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Inside the dialog: the start-up process has made its first-pass
	// arrays and waits.
	actsRemovingNothing(t, "during the pass-phrase dialog")
	if err := start.Wait(); err != nil {
		t.Fatal(err)
	}
	s := server{Apache: ap, arrays: slices.DeleteFunc(ipctest.SemIDs(t), func(id int32) bool { return slices.Contains(before, id) })}
	defer ipctest.KillAll()

	actsRemovingNothing(t, "after the slow start, no TLS request yet")
	s.healthy(t, "after the slow start")
	actsRemovingNothing(t, "after a TLS request")
	s.healthy(t, "after acting twice")
	wantArrays(t, leaked, "the dead generation's, kept while a master runs")

	// The outage: nothing of Apache runs; every leak goes, and the server
	// starts again.
	if err := ipctest.KillAll(); err != nil {
		t.Fatal(err)
	}
	out, code := handler(t, append(slices.Clone(act), "--min-age", "0s")...)
	if code != 0 || len(ipctest.SemIDs(t)) != 0 {
		t.Errorf("in the outage: exit %d, arrays left %v: %s", code, ipctest.SemIDs(t), out)
	}
	startServer(t, ap).healthy(t, "restarted after the outage")
}

// TestSlowStart3s: a 3 s pass-phrase dialog.
func TestSlowStart3s(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	slowStart(t, 3*time.Second)
}

// TestSlowStart60s: a 60 s one (a person typing the pass phrase).
func TestSlowStart60s(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	slowStart(t, 60*time.Second)
}

// clockStep is the scenario of a forward wall-clock step after Apache
// started: btime follows the wall clock, so every master seems to start
// later than its own arrays. A rule that trusted that order would remove
// the rewrite-map and ssl-cache mutexes of a healthy server.
func clockStep(t *testing.T, step time.Duration) {
	s := startServer(t, ipctest.NewApacheWith(t, ipctest.ApacheOptions{TLS: true}))
	defer ipctest.KillAll()
	ipctest.ShiftBootTime(t, step)
	actsRemovingNothing(t, "after a clock step of "+step.String())
	s.healthy(t, "after a clock step of "+step.String())
}

// TestClockStep5s: the wall clock steps 5 s forward.
func TestClockStep5s(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	clockStep(t, 5*time.Second)
}

// TestClockStep3600s: an hour forward (a VM whose clock was set at boot).
func TestClockStep3600s(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	clockStep(t, time.Hour)
}

// TestNonRootForegroundMaster: `apache2 -DFOREGROUND` as www-data in a
// process group whose leader exited: it looks like a certain orphan, and
// --kill-orphans must not kill it, as root or through sudo.
func TestNonRootForegroundMaster(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	s := startServer(t, ipctest.NewApacheWith(t, ipctest.ApacheOptions{NonRootForeground: true}))
	defer ipctest.KillAll()
	pid, err := s.MasterPID()
	if err != nil {
		t.Fatal(err)
	}
	actsRemovingNothing(t, "with --kill-orphans as root", "--kill-orphans", "--orphan-grace", "1s")
	sudo := viaSudo(t)
	out, code := sudo(append(slices.Clone(act), "--kill-orphans")...)
	if code != 2 || !strings.Contains(out, "--kill-orphans: not allowed through sudo") {
		t.Errorf("with --kill-orphans through sudo: exit %d, %s", code, out)
	}
	out, code = sudo(act...)
	if code != 0 || strings.Contains(out, "orphan pid") {
		t.Errorf("through sudo: exit %d, %s", code, out)
	}
	if now, err := s.MasterPID(); err != nil || now != pid || !ipctest.Alive(pid) {
		t.Errorf("the master %d is gone (pid file says %d, %v)", pid, now, err)
	}
	s.healthy(t, "after --kill-orphans")
}

// TestGracefulRestart: a graceful restart makes new mutexes in the live
// master; acting right after keeps them all.
func TestGracefulRestart(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	s := startServer(t, ipctest.NewApacheWith(t, ipctest.ApacheOptions{TLS: true}))
	defer ipctest.KillAll()
	if err := s.Graceful(); err != nil {
		t.Fatal(err)
	}
	s.arrays = ipctest.SemIDs(t)
	actsRemovingNothing(t, "right after a graceful restart")
	s.healthy(t, "after a graceful restart")
}

// TestInheritedProgramArray: a www-data program (not Apache) makes a
// private one-semaphore array, starts a child 3 s later and exits; the
// child keeps using it. A rule that counted only the owner's processes
// older than the array would remove it, and the child's next semop would
// get EINVAL.
func TestInheritedProgramArray(t *testing.T) {
	t.Parallel()
	if !ipctest.Enter(t) {
		return
	}
	u := ipctest.StartInheritedUser(t, 33, 3*time.Second)
	actsRemovingNothing(t, "beside a program's inherited array")
	if err := u.Use(); err != nil {
		t.Errorf("the child cannot use its array any more: %v", err)
	}
}
