package sysvipc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// userHZ is the clock tick /proc/<pid>/stat counts start times in. Linux
// fixes USER_HZ at 100 for userspace on every architecture Go supports
// (prometheus/procfs makes the same assumption).
const userHZ = 100

// unknownUID stands for an owner the census could not read ((uid_t)-1,
// which no account has).
const unknownUID = 1<<32 - 1

// Process is one entry of the process census.
type Process struct {
	PID, PPID, PGRP int
	Comm            string // from /proc/<pid>/stat, at most 15 bytes
	Exe             string // base name of /proc/<pid>/exe; "" when unreadable
	ExePath         string // the whole link, " (deleted)" trimmed; "" when unreadable
	RUID, EUID      uint32
	Start           time.Time // wall time, to the clock tick
	Role            Role
	CertainOrphan   bool   // an orphan whose master (its group leader) is gone: safe to kill
	StartTicks      uint64 // starttime of /proc/<pid>/stat: the identity check before a signal
	IPCNS           uint64 // inode of its IPC namespace; 0 when unreadable (another user's, without root)
	// APR: the process maps libapr-1, the library whose sysvsem mutexes
	// these are. Read by ApacheCensus for root's and the Apache users'
	// processes only.
	APR bool
	// Shared are the inodes of its anonymous shared mappings ("/dev/zero
	// (deleted)", rw-s): Apache's scoreboard is one, made by the master
	// before it forks, so its workers share the master's inode, and two
	// servers started apart never share one. Read with APR.
	Shared []uint64
	// Foreground: its command line does not positively start a daemon
	// (`-k start` or `-k restart`, the way apachectl and systemd units
	// start the server that forks workers), or starts Apache in the
	// foreground or as one process (-X, -DONE_PROCESS, -DFOREGROUND,
	// -DNO_DETACH, -DDEBUG), the way a master started by a supervisor
	// runs; read for orphans only. A one-process server whose config file
	// defines FOREGROUND looks like a daemon's worker from its command
	// line alone; only the -k says which it is.
	Foreground bool
}

// cmdline reads /proc/<pid>/cmdline (world-readable) as its arguments;
// nil when it cannot be read.
func (fs FS) cmdline(pid int) []string {
	b, err := os.ReadFile(fs.Path(strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil
	}
	var args []string
	for arg := range bytes.SplitSeq(b, []byte{0}) {
		args = append(args, string(arg))
	}
	return args
}

// Census is a snapshot of the processes of the reader's PID namespace.
type Census struct {
	Procs map[int]*Process
	Taken time.Time
	// Hidden: procfs hid processes from the reader (hidepid, for another
	// user's processes): a pid the census lacks may be a live process's,
	// so no array can be proven stale by it.
	Hidden bool
}

// Census reads every process under the mount point. Processes that exit
// while it reads are left out: they are gone either way.
//
// It reads /proc/<pid>/stat, the Uid line of status and the exe link
// itself rather than through prometheus/procfs: procfs's package init
// compiles regular expressions and pulls in net, 0.25 ms of every
// check_sysvipc run (a tenth of it), and its status parser reads every
// field where the census needs one.
func (fs FS) Census() (Census, error) {
	boot, err := fs.bootTime()
	if err != nil {
		return Census{}, err
	}
	names, err := fs.listPIDs()
	if err != nil {
		return Census{}, err
	}
	c := Census{Procs: make(map[int]*Process, len(names)), Taken: time.Now()}
	buf := make([]byte, 4096)
	read := func(pid int) {
		p, ok, hidden := fs.readProcess(pid, boot, buf)
		if ok {
			c.Procs[pid] = p
		}
		c.Hidden = c.Hidden || hidden
	}
	for _, pid := range names {
		read(pid)
	}
	betweenCensusPasses()
	// Processes that started while the list was read: a start-up process
	// listed, then gone by the time it was read, forked its master first.
	// Without them the census could hold no Apache at all while one runs
	// (mod_ssl's start-up process makes an array, forks the master and
	// exits within the census). The master may even have taken the pid of
	// a process read before it exited: a pid whose start time or name
	// changed (a fork onto the number, an exec) is read again. A process
	// read alive that is gone now stays as it was read: it may have
	// forked after this listing, and its entry keeps what it kept.
	if censusSecondPass {
		again, err := fs.listPIDs()
		if err != nil {
			return Census{}, err
		}
		afterSecondListing()
		for _, pid := range again {
			p := c.Procs[pid]
			if p == nil {
				read(pid)
				continue
			}
			if ticks, comm, ok := fs.statIdentity(pid, buf); ok && (ticks != p.StartTicks || comm != p.Comm) {
				read(pid)
			}
		}
	}
	c.Hidden = c.Hidden || fs.hidesProcesses()
	return c, nil
}

// statIdentity is a process's start time (clock ticks after boot) and
// name; ok is false when it cannot be read.
func (fs FS) statIdentity(pid int, buf []byte) (ticks uint64, comm string, ok bool) {
	stat, err := readSmall(fs.Path(strconv.Itoa(pid), "stat"), buf)
	if err != nil {
		return 0, "", false
	}
	p, _, ticks, err := parseProcStat(stat)
	if err != nil {
		return 0, "", false
	}
	return ticks, p.Comm, true
}

// betweenCensusPasses and afterSecondListing let a test change the tree
// between the census's two listings, and after the second.
var (
	betweenCensusPasses = func() {}
	afterSecondListing  = func() {}
)

// listPIDs lists the process directories under the mount point.
func (fs FS) listPIDs() ([]int, error) {
	dir, err := os.Open(fs.proc)
	if err != nil {
		return nil, fmt.Errorf("could not list processes under %s: %w", fs.proc, err)
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return nil, fmt.Errorf("could not list processes under %s: %w", fs.proc, err)
	}
	pids := make([]int, 0, len(names))
	for _, name := range names {
		if pid, err := strconv.Atoi(name); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// readProcess reads one process; ok is false for a zombie or a process
// that exited meanwhile. A zombie holds nothing: its semaphore undo has
// run and it only waits for its parent to reap it. hidden is true when
// procfs refused its stat (hidepid=noaccess): it runs, unseen.
func (fs FS) readProcess(pid int, boot time.Time, buf []byte) (p *Process, ok, hidden bool) {
	dir := fs.Path(strconv.Itoa(pid))
	stat, err := readSmall(filepath.Join(dir, "stat"), buf)
	if err != nil {
		return nil, false, errors.Is(err, os.ErrPermission)
	}
	p, state, ticks, err := parseProcStat(stat)
	if err != nil || (state == 'Z' && !fs.liveThreads(dir, buf)) {
		return nil, false, false
	}
	// A process whose status cannot be read is kept with unknown owners
	// (never root, never an Apache user): dropping it would make its pid
	// look dead to the classifier.
	p.RUID, p.EUID = unknownUID, unknownUID
	if status, err := readSmall(filepath.Join(dir, "status"), buf); err == nil {
		if r, e, err := parseStatusUIDs(status); err == nil {
			p.RUID, p.EUID = r, e
		}
	}
	p.PID = pid
	p.StartTicks = ticks
	p.Start = boot.Add(time.Duration(ticks) * time.Second / userHZ)
	// exe is unreadable for other users' processes unless root; the
	// comm name is the fallback.
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		p.ExePath = strings.TrimSuffix(exe, " (deleted)")
		p.Exe = filepath.Base(p.ExePath)
	}
	if link, err := os.Readlink(filepath.Join(dir, "ns", "ipc")); err == nil {
		p.IPCNS, _ = parseNSLink(link, dir)
	}
	return p, true, false
}

// liveThreads reports whether a process whose main thread is a zombie
// still has live threads: a program that ends main() with pthread_exit
// runs on, and shows state Z. A real zombie counts one thread.
func (fs FS) liveThreads(dir string, buf []byte) bool {
	status, err := readSmall(filepath.Join(dir, "status"), buf)
	if err != nil {
		return false
	}
	for line := range bytes.Lines(status) {
		if v, ok := bytes.CutPrefix(line, []byte("Threads:")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			return err == nil && n > 1
		}
	}
	return false
}

// ApacheCensus is the census the classifier and the remediator judge by:
// the processes of the reader's IPC namespace, with APR read for root's
// and the Apache users' processes, and roles assigned.
func (fs FS) ApacheCensus(apacheUIDs map[uint32]bool) (Census, error) {
	c, err := fs.NamespaceCensus()
	if err != nil {
		return Census{}, err
	}
	for pid, p := range c.Procs {
		if p.RUID == 0 || p.EUID == 0 || apacheUIDs[p.RUID] || apacheUIDs[p.EUID] {
			p.APR, p.Shared = fs.readMaps(pid)
		}
	}
	c.AssignRoles(apacheUIDs)
	for pid, p := range c.Procs {
		if p.Role == RoleOrphan {
			p.Foreground = InForeground(fs.cmdline(pid))
		}
	}
	return c, nil
}

// readMaps reads /proc/<pid>/maps once for what the census needs of it:
// whether libapr-1 is mapped, and the inodes of the anonymous shared
// mappings ("ADDR rw-s OFFSET DEV INODE /dev/zero (deleted)"). Readable
// for root, or for one's own processes; unreadable counts as neither.
func (fs FS) readMaps(pid int) (apr bool, shared []uint64) {
	b, err := os.ReadFile(fs.Path(strconv.Itoa(pid), "maps"))
	if err != nil {
		return false, nil
	}
	return bytes.Contains(b, []byte("/libapr-1.so")), sharedAnon(b)
}

// sharedAnon picks the anonymous shared mappings' inodes out of a maps
// file; most processes have none, and are done with one search.
func sharedAnon(b []byte) []uint64 {
	if !bytes.Contains(b, []byte(" /dev/zero (deleted)")) {
		return nil
	}
	var out []uint64
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		if !bytes.HasSuffix(line, []byte(" /dev/zero (deleted)")) {
			continue
		}
		f := bytes.Fields(line)
		if len(f) < 6 || string(f[1]) != "rw-s" {
			continue
		}
		if ino, err := strconv.ParseUint(string(f[4]), 10, 64); err == nil && ino != 0 && !slices.Contains(out, ino) {
			out = append(out, ino)
		}
	}
	return out
}

// readSmall reads a small /proc file into buf with one read; procfs
// files report a size of 0, so nothing is gained by a stat first.
func readSmall(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return buf[:n], nil
}

// bootTime reads btime from /proc/stat: process start times count clock
// ticks from boot.
func (fs FS) bootTime() (time.Time, error) {
	path := fs.Path("stat")
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("could not read boot time: %w", err)
	}
	defer f.Close()
	return parseBootTime(f, path)
}

func parseBootTime(r io.Reader, file string) (time.Time, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("btime ")); ok {
			secs, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("%w: %s: invalid btime %q: %w", ErrFileParse, file, v, err)
			}
			return time.Unix(secs, 0), nil
		}
	}
	if err := sc.Err(); err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %w", ErrFileParse, file, err)
	}
	return time.Time{}, fmt.Errorf("%w: %s: no btime line", ErrFileParse, file)
}

// parseProcStat parses /proc/<pid>/stat. comm is between the first '('
// and the last ')': it may hold spaces and parentheses itself.
func parseProcStat(b []byte) (p *Process, state byte, startTicks uint64, err error) {
	open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return nil, 0, 0, fmt.Errorf("%w: stat: no (comm)", ErrFileParse)
	}
	var fields [maxColumns][]byte
	rest := splitFields(b[closing+1:], &fields)
	// After comm: state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice threads
	// itrealvalue starttime (field 22 of proc(5) is rest[19]).
	if len(rest) < 20 || len(rest[0]) != 1 {
		return nil, 0, 0, fmt.Errorf("%w: stat: %d fields after comm", ErrFileParse, len(rest))
	}
	p = &Process{Comm: string(b[open+1 : closing])}
	if p.PPID, err = strconv.Atoi(string(rest[1])); err != nil {
		return nil, 0, 0, fmt.Errorf("%w: stat: invalid ppid %q: %w", ErrFileParse, rest[1], err)
	}
	if p.PGRP, err = strconv.Atoi(string(rest[2])); err != nil {
		return nil, 0, 0, fmt.Errorf("%w: stat: invalid pgrp %q: %w", ErrFileParse, rest[2], err)
	}
	if startTicks, err = parseUint64(rest[19]); err != nil {
		return nil, 0, 0, fmt.Errorf("%w: stat: invalid starttime %q: %w", ErrFileParse, rest[19], err)
	}
	return p, rest[0][0], startTicks, nil
}

// parseStatusUIDs finds "Uid:\treal\teffective\tsaved\tfs" in
// /proc/<pid>/status.
func parseStatusUIDs(b []byte) (real, effective uint32, err error) {
	for line := range bytes.Lines(b) {
		v, ok := bytes.CutPrefix(line, []byte("Uid:"))
		if !ok {
			continue
		}
		var fields [maxColumns][]byte
		f := splitFields(bytes.TrimSpace(v), &fields)
		if len(f) < 2 {
			return 0, 0, fmt.Errorf("%w: status: Uid line has %d fields", ErrFileParse, len(f))
		}
		if real, err = parseUint32(f[0]); err != nil {
			return 0, 0, fmt.Errorf("%w: status: invalid real uid %q: %w", ErrFileParse, f[0], err)
		}
		if effective, err = parseUint32(f[1]); err != nil {
			return 0, 0, fmt.Errorf("%w: status: invalid effective uid %q: %w", ErrFileParse, f[1], err)
		}
		return real, effective, nil
	}
	return 0, 0, fmt.Errorf("%w: status: no Uid line", ErrFileParse)
}

// InNamespace keeps the processes of one IPC namespace, and those whose
// namespace could not be read (kept: they might be in it). Only they can
// use its arrays: a container's Apache neither keeps the host's arrays
// live nor leaks them.
func (c Census) InNamespace(inode uint64) Census {
	out := Census{Procs: make(map[int]*Process, len(c.Procs)), Taken: c.Taken, Hidden: c.Hidden}
	for pid, p := range c.Procs {
		if p.IPCNS == 0 || p.IPCNS == inode {
			out.Procs[pid] = p
		}
	}
	return out
}

// WithRole lists the processes of one role, by pid.
func (c Census) WithRole(r Role) []*Process {
	var out []*Process
	for _, p := range c.Procs {
		if p.Role == r {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *Process) int { return a.PID - b.PID })
	return out
}

// Process reads one process, for re-checking a pid right before acting on
// it; ok is false when it is gone (or a zombie).
func (fs FS) Process(pid int) (*Process, bool, error) {
	// Most pids asked about are dead: find that out before reading the
	// boot time from /proc/stat.
	if _, err := os.Stat(fs.Path(strconv.Itoa(pid))); err != nil {
		return nil, false, nil
	}
	boot, err := fs.bootTime()
	if err != nil {
		return nil, false, err
	}
	p, ok, _ := fs.readProcess(pid, boot, make([]byte, 4096))
	return p, ok, nil
}
