package sysvipc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// comm with spaces and parentheses: only the last ')' ends it.
	line := "4242 (apache2 (x) y) S 1 4242 4242 0 -1 4194624 2 0 0 0 0 0 0 0 20 0 1 0 123456 10592256 1200 18446744073709551615\n"
	p, state, ticks, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if p.Comm != "apache2 (x) y" || state != 'S' || p.PPID != 1 || p.PGRP != 4242 || ticks != 123456 {
		t.Errorf("got %+v state %c ticks %d", p, state, ticks)
	}
	for _, tt := range []struct{ in, want string }{
		{"1 comm S 0 1", "error parsing file: stat: no (comm)"},
		{"1 (c) S 0 1 1", "error parsing file: stat: 4 fields after comm"},
		{"1 (c) S x 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", `error parsing file: stat: invalid ppid "x": strconv.Atoi: parsing "x": invalid syntax`},
		{"1 (c) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5", `error parsing file: stat: invalid starttime "-5": strconv.ParseUint: parsing "-5": invalid syntax`},
	} {
		if _, _, _, err := parseProcStat([]byte(tt.in)); err == nil || err.Error() != tt.want {
			t.Errorf("parseProcStat(%q) error %v, want %s", tt.in, err, tt.want)
		}
	}
}

func TestParseStatusUIDs(t *testing.T) {
	status := "Name:\tapache2\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t33\t33\t33\t33\nGid:\t33\t33\t33\t33\n"
	r, e, err := parseStatusUIDs([]byte(status))
	if err != nil || r != 33 || e != 33 {
		t.Errorf("got %d %d %v", r, e, err)
	}
	if _, _, err := parseStatusUIDs([]byte("Name:\tx\n")); err == nil || err.Error() != "error parsing file: status: no Uid line" {
		t.Errorf("no Uid line: %v", err)
	}
	if _, _, err := parseStatusUIDs([]byte("Uid:\t0\n")); err == nil || err.Error() != "error parsing file: status: Uid line has 1 fields" {
		t.Errorf("short Uid line: %v", err)
	}
}

func TestParseBootTime(t *testing.T) {
	got, err := parseBootTime(strings.NewReader("cpu  1 2 3\nbtime 1795788847\nprocesses 5\n"), "stat")
	if err != nil || !got.Equal(time.Unix(1795788847, 0)) {
		t.Errorf("got %v %v", got, err)
	}
	if _, err := parseBootTime(strings.NewReader("cpu 1\n"), "stat"); err == nil || err.Error() != "error parsing file: stat: no btime line" {
		t.Errorf("no btime: %v", err)
	}
}

// TestCensusLive reads this test's own process from the real /proc.
func TestCensusLive(t *testing.T) {
	fs, err := NewFS("/proc")
	if err != nil {
		t.Fatal(err)
	}
	c, err := fs.Census()
	if err != nil {
		t.Fatal(err)
	}
	self := c.Procs[os.Getpid()]
	if self == nil {
		t.Fatal("own process missing from the census")
	}
	if self.Exe != "sysvipc.test" || self.RUID != uint32(os.Getuid()) || time.Since(self.Start) > time.Hour || time.Since(self.Start) < 0 {
		t.Errorf("own process: %+v", self)
	}
}

// TestCensusSeesProcessesStartedMeanwhile: mod_ssl's start-up process
// makes an array, forks the master and exits while a census reads the
// processes. Listed but gone when read, it must not leave a census with
// no Apache at all: the master it forked is read from a second listing.
func TestCensusSeesProcessesStartedMeanwhile(t *testing.T) {
	root := t.TempDir()
	proc := func(pid int) {
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stat := fmt.Sprintf("%d (apache2) S 1 %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0", pid, pid, pid) + strings.Repeat(" 0", 31)
		for name, text := range map[string]string{"stat": stat, "status": "Name:\tapache2\nUid:\t0\t0\t0\t0\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte("cpu 0 0 0 0\nbtime 1796500000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	proc(100) // the start-up process, listed
	fs, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	defer func(f func()) { betweenCensusPasses = f }(betweenCensusPasses)
	// After the first listing: the start-up process has exited and the
	// master it forked appears.
	first := true
	betweenCensusPasses = func() {
		if first {
			first = false
			if err := os.RemoveAll(filepath.Join(root, "100")); err != nil {
				t.Fatal(err)
			}
			proc(200)
		}
	}
	c, err := fs.Census()
	if err != nil {
		t.Fatal(err)
	}
	if c.Procs[200] == nil {
		t.Errorf("the master forked during the census is missing: %v", c.Procs)
	}
}

// TestCensusSeesMasterOnReusedPID: the master forked during the census
// took the pid of a process the census had read before it exited; the
// second pass sees the pid's start time changed and reads it again.
func TestCensusSeesMasterOnReusedPID(t *testing.T) {
	root := t.TempDir()
	proc := func(pid int, comm string, ticks int) {
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stat := fmt.Sprintf("%d (%s) S 1 %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0", pid, comm, pid, pid, ticks) + strings.Repeat(" 0", 31)
		for name, text := range map[string]string{"stat": stat, "status": "Name:\t" + comm + "\nUid:\t0\t0\t0\t0\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte("btime 1796500000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	proc(300, "sleep", 100) // read in the first pass, then gone
	fs, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	defer func(f func()) { betweenCensusPasses = f }(betweenCensusPasses)
	betweenCensusPasses = func() { proc(300, "apache2", 900) } // the master, on the same pid
	c, err := fs.Census()
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Procs[300]; p == nil || p.Comm != "apache2" || p.StartTicks != 900 {
		t.Errorf("pid 300 is %+v, want the master that took it", p)
	}
}

// TestCensusKeepsProcessThatExitsDuringSecondPass: a start-up process
// read alive, listed again, then gone before the second pass reads it
// (it forked its master after that listing and exited) stays in the
// census as it was read: dropping it would leave no Apache at all.
func TestCensusKeepsProcessThatExitsDuringSecondPass(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "100")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stat := "100 (apache2) S 1 100 100 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0" + strings.Repeat(" 0", 31)
	for name, text := range map[string]string{"stat": stat, "status": "Name:\tapache2\nUid:\t0\t0\t0\t0\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte("btime 1796500000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	defer func(f func()) { afterSecondListing = f }(afterSecondListing)
	afterSecondListing = func() { _ = os.Remove(filepath.Join(dir, "stat")) } // listed, gone when read
	c, err := fs.Census()
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Procs[100]; p == nil || p.Comm != "apache2" {
		t.Errorf("the start-up process read alive was dropped: %v", c.Procs)
	}
}

// TestCensusRereadsProcessThatExecs: a process that execs between the
// listings keeps its start time; its new name makes it read again.
func TestCensusRereadsProcessThatExecs(t *testing.T) {
	root := t.TempDir()
	write := func(comm string) {
		dir := filepath.Join(root, "200")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stat := "200 (" + comm + ") S 1 200 200 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 700 0 0" + strings.Repeat(" 0", 31)
		for name, text := range map[string]string{"stat": stat, "status": "Name:\t" + comm + "\nUid:\t0\t0\t0\t0\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte("btime 1796500000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	write("sh")
	fs, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	defer func(f func()) { betweenCensusPasses = f }(betweenCensusPasses)
	betweenCensusPasses = func() { write("httpd") }
	c, err := fs.Census()
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Procs[200]; p == nil || p.Comm != "httpd" {
		t.Errorf("pid 200 is %+v, want the program it became", p)
	}
}
