package ipctest_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	ipctest.HelperMain()
	os.Exit(m.Run())
}

// TestTLSApacheSlowPassPhrase: mod_ssl decrypts the key in the start-up
// process, before the master exists, after it made its first arrays.
func TestTLSApacheSlowPassPhrase(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	const delay = 2 * time.Second
	a := ipctest.NewApacheWith(t, ipctest.ApacheOptions{TLS: true, PassPhraseDelay: delay})
	t.Cleanup(killAll(t))
	key, err := os.ReadFile(a.Dir + "/key.pem")
	if err != nil || !bytes.Contains(key, []byte("ENCRYPTED")) {
		t.Fatalf("key not encrypted: %v %.40q", err, key)
	}

	began := time.Now()
	s, err := a.StartAsync()
	if err != nil {
		t.Fatal(err)
	}
	dialog, err := s.WaitPassPhraseDialog(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dialog pid %d seen %v after launch", dialog, time.Since(began))
	if _, err := a.MasterPID(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("master pid file during the dialog: %v", err)
	}
	if ppid := stat(t, dialog).ppid; ppid != s.PID {
		t.Errorf("dialog's parent %d, want the start-up process %d", ppid, s.PID)
	}
	during := semArrays(t)
	t.Logf("arrays during the dialog: %+v", during)
	if len(during) != 3 {
		t.Errorf("%d arrays during the dialog, want 3 (accept, rewrite-map, ssl-cache of the first pass)", len(during))
	}
	for _, x := range during {
		if x.cuid != 0 || x.uid != 33 {
			t.Errorf("array %+v: want cuid 0 (root made it) and uid 33 (given to User)", x)
		}
	}

	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < delay {
		t.Errorf("start took %v, less than the dialog's %v", took, delay)
	}
	master, err := a.MasterPID()
	if err != nil {
		t.Fatal(err)
	}
	after := semArrays(t)
	t.Logf("arrays after the start: %+v", after)
	if len(after) != ipctest.ArraysPerApacheStart {
		t.Errorf("%d arrays after the start, want %d", len(after), ipctest.ArraysPerApacheStart)
	}
	// Only the ssl-cache mutex survives the first pass; its last pid is
	// the start-up process's SETVAL and it is older than the master.
	var kept []sem
	for _, d := range during {
		for _, x := range after {
			if x.id == d.id {
				kept = append(kept, x)
			}
		}
	}
	if len(kept) != 1 {
		t.Fatalf("first-pass arrays still there after the start: %+v, want only ssl-cache", kept)
	}
	if pid := semPID(t, kept[0].id); pid != s.PID {
		t.Errorf("ssl-cache array's last pid %d, want the start-up process %d", pid, s.PID)
	}
	masterStart := startTime(t, master)
	if float64(kept[0].ctime) >= masterStart {
		t.Errorf("ssl-cache ctime %d not before the master's start %.2f", kept[0].ctime, masterStart)
	}
	t.Logf("ssl-cache ctime %d, master %d started %.2f", kept[0].ctime, master, masterStart)

	if status, err := a.GetTLS("/index.html"); err != nil || status != 200 {
		t.Errorf("GetTLS: %d %v", status, err)
	}
	if status, err := a.Get("/index.html"); err != nil || status != 200 {
		t.Errorf("Get: %d %v", status, err)
	}
	if errs := a.MutexErrors(); len(errs) != 0 {
		t.Errorf("healthy start has mutex errors: %q", errs)
	}

	// Without its ssl-cache array the server still serves TLS, and says
	// so on every handshake.
	if err := ipctest.SemRemove(kept[0].id); err != nil {
		t.Fatal(err)
	}
	if status, err := a.GetTLS("/index.html"); err != nil || status != 200 {
		t.Errorf("GetTLS without the ssl-cache array: %d %v", status, err)
	}
	if errs := a.MutexErrors(); len(errs) == 0 || !strings.Contains(errs[0], "AH02026") {
		t.Errorf("mutex errors after removing ssl-cache: %q", errs)
	}
}

// TestNonRootForegroundApache: a www-data master in the foreground, not
// leading its process group, whose leader is gone.
func TestNonRootForegroundApache(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	a := ipctest.NewApacheWith(t, ipctest.ApacheOptions{NonRootForeground: true, TLS: true})
	t.Cleanup(killAll(t))
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	master, err := a.MasterPID()
	if err != nil {
		t.Fatal(err)
	}
	st := stat(t, master)
	t.Logf("master %d: pgrp %d session %d ppid %d", master, st.pgrp, st.session, st.ppid)
	if st.pgrp == master {
		t.Errorf("master %d leads its process group", master)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(st.pgrp)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("process-group leader %d still there: %v", st.pgrp, err)
	}
	if uid := euid(t, master); uid != 33 {
		t.Errorf("master euid %d, want 33", uid)
	}
	if n := apacheChildren(master); n < 2 {
		t.Errorf("master has %d workers", n)
	}
	if status, err := a.Get("/index.html"); err != nil || status != 200 {
		t.Errorf("Get: %d %v", status, err)
	}
	if status, err := a.GetTLS("/index.html"); err != nil || status != 200 {
		t.Errorf("GetTLS: %d %v", status, err)
	}
	arrays := semArrays(t)
	if len(arrays) != ipctest.ArraysPerApacheStart {
		t.Errorf("%d arrays, want %d: %+v", len(arrays), ipctest.ArraysPerApacheStart, arrays)
	}
	for _, x := range arrays {
		if x.cuid != 33 || x.uid != 33 {
			t.Errorf("array %+v: want cuid and uid 33", x)
		}
	}
	if errs := a.MutexErrors(); len(errs) != 0 {
		t.Errorf("mutex errors: %q", errs)
	}
}

// TestMutexErrors: real failures match, a healthy start does not.
func TestMutexErrors(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	t.Cleanup(killAll(t))
	limits, err := os.ReadFile("/proc/sys/kernel/sem")
	if err != nil {
		t.Fatal(err)
	}
	var l [4]int
	for i, f := range strings.Fields(string(limits)) {
		l[i], _ = strconv.Atoi(f)
	}

	// Room for two arrays: the first pass's third, ssl-cache, fails.
	if err := ipctest.SetSemLimits(l[0], l[1], l[2], 2); err != nil {
		t.Fatal(err)
	}
	full := ipctest.NewApache(t)
	if err := full.Start(); err == nil {
		t.Fatal("apache started with room for 2 arrays")
	}
	if errs := full.MutexErrors(); len(errs) != 1 || !strings.Contains(errs[0], "AH00023") {
		t.Errorf("mutex errors of a start without room: %q", errs)
	}
	if err := ipctest.SetSemLimits(l[0], l[1], l[2], l[3]); err != nil {
		t.Fatal(err)
	}

	a := ipctest.NewApache(t)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if errs := a.MutexErrors(); len(errs) != 0 {
		t.Errorf("healthy start has mutex errors: %q", errs)
	}
	// Removing the arrays under the server: the worker waiting for the
	// accept mutex fails at once, and the server exits.
	for _, s := range semArrays(t) {
		if err := ipctest.SemRemove(s.id); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(a.MutexErrors()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	errs := a.MutexErrors()
	if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), "accept mutex") {
		t.Errorf("mutex errors after removing the arrays: %q", errs)
	}
	t.Logf("mutex errors: %q", errs)
}

// TestInheritedUser: the array outlives its creator; the child uses it
// until it is removed.
func TestInheritedUser(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	const delay = 2 * time.Second
	u := ipctest.StartInheritedUser(t, 33, delay)
	t.Logf("array %d, creator %d, child %d", u.ID, u.CreatorPID, u.ChildPID)
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(u.CreatorPID) + "/stat"); err == nil && stat(t, u.CreatorPID).state != "Z" {
		t.Errorf("creator still running: %s", b)
	}
	if st := stat(t, u.ChildPID); st.state == "Z" {
		t.Fatal("child is a zombie")
	}
	if uid := euid(t, u.ChildPID); uid != 33 {
		t.Errorf("child euid %d, want 33", uid)
	}
	var arr *sem
	for _, s := range semArrays(t) {
		if s.id == u.ID {
			arr = &s
		}
	}
	if arr == nil {
		t.Fatalf("array %d not in /proc/sysvipc/sem", u.ID)
	}
	if arr.cuid != 33 || arr.uid != 33 || arr.nsems != 1 {
		t.Errorf("array %+v: want one semaphore, cuid and uid 33", *arr)
	}
	if child := startTime(t, u.ChildPID); float64(arr.ctime) >= child {
		t.Errorf("array ctime %d not before the child's start %.2f", arr.ctime, child)
	}
	if err := u.Use(); err != nil {
		t.Fatalf("use: %v", err)
	}
	if err := u.Use(); err != nil {
		t.Fatalf("second use: %v", err)
	}
	if err := ipctest.SemRemove(u.ID); err != nil {
		t.Fatal(err)
	}
	if err := u.Use(); !errors.Is(err, unix.EINVAL) {
		t.Errorf("use after ipcrm: %v, want EINVAL", err)
	}
}

// TestShiftBootTime: btime moves for every reader, and back at the end.
func TestShiftBootTime(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	before := btime(t)
	const delta = 90 * time.Minute
	t.Run("shifted", func(t *testing.T) {
		ipctest.ShiftBootTime(t, delta)
		if got := btime(t); got != before+int64(delta/time.Second) {
			t.Errorf("btime %d, want %d+%d", got, before, int64(delta/time.Second))
		}
		// Another user's reader sees the same.
		cmd := exec.Command("grep", "^btime", "/proc/stat")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 33, Gid: 33}}
		out, err := cmd.Output()
		if want := "btime " + strconv.FormatInt(before+int64(delta/time.Second), 10) + "\n"; err != nil || string(out) != want {
			t.Errorf("www-data reads %q %v, want %q", out, err, want)
		}
	})
	if got := btime(t); got != before {
		t.Errorf("btime %d after the test, want %d back", got, before)
	}
}

func killAll(t *testing.T) func() {
	return func() {
		if err := ipctest.KillAll(); err != nil {
			t.Error(err)
		}
	}
}

type sem struct {
	id           int32
	nsems        int
	uid, cuid    int
	otime, ctime int64
}

// semArrays parses /proc/sysvipc/sem: key semid perms nsems uid gid cuid
// cgid otime ctime ...
func semArrays(t *testing.T) []sem {
	t.Helper()
	b, err := os.ReadFile("/proc/sysvipc/sem")
	if err != nil {
		t.Fatal(err)
	}
	var out []sem
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
		out = append(out, sem{id: int32(n(1)), nsems: int(n(3)), uid: int(n(4)), cuid: int(n(6)), otime: n(8), ctime: n(9)})
	}
	return out
}

// semPID is GETPID: the last process to operate on (or SETVAL) it.
func semPID(t *testing.T, id int32) int {
	t.Helper()
	const getPID = 11
	r, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, getPID, 0, 0, 0)
	if errno != 0 {
		t.Fatalf("semctl GETPID %d: %v", id, errno)
	}
	return int(r)
}

type procStat struct {
	state               string
	ppid, pgrp, session int
	startTicks          int64
}

func stat(t *testing.T, pid int) procStat {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice threads
	// itrealvalue starttime
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
	return procStat{state: f[0], ppid: int(n(1)), pgrp: int(n(2)), session: int(n(3)), startTicks: n(19)}
}

// startTime is the process's start in Unix seconds, as procfs readers
// compute it (CLK_TCK is 100 on Linux).
func startTime(t *testing.T, pid int) float64 {
	t.Helper()
	return float64(btime(t)) + float64(stat(t, pid).startTicks)/100
}

func btime(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no btime in /proc/stat")
	return 0
}

func euid(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(v); len(f) > 1 {
				n, _ := strconv.Atoi(f[1])
				return n
			}
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return -1
}

// apacheChildren counts live apache2 processes whose parent is pid.
func apacheChildren(pid int) int {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil || !bytes.Contains(b, []byte("(apache2)")) {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[0] != "Z" && f[1] == strconv.Itoa(pid) {
			n++
		}
	}
	return n
}
