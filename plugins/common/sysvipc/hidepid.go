package sysvipc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// capSysPtrace is CAP_SYS_PTRACE's bit in /proc/<pid>/status's CapEff:
// with it a reader sees every process whatever hidepid says.
const capSysPtrace = 19

// hidesProcesses reports whether the proc mount the FS reads may hide
// other users' processes from this reader: hidepid=invisible (2) lists
// only the processes the reader may ptrace unless it is in the group the
// gid= option names, hidepid=ptraceable (4) whatever its groups. A reader
// with CAP_SYS_PTRACE sees them all. (hidepid=noaccess lists every pid and
// refuses their files: the census sees that per process.) The mount is
// found by its device, as stat gives it for the FS's path; when it cannot
// be found, or init (pid 1) is missing from the listing, the answer is
// yes: a count that was not measured is said to be so.
func (fs FS) hidesProcesses() bool {
	if !fs.live || hasCapability(capSysPtrace) {
		return false
	}
	if _, err := os.Stat(fs.Path("1")); err != nil {
		return true
	}
	var st unix.Stat_t
	if err := unix.Stat(fs.proc, &st); err != nil {
		return true
	}
	f, err := os.Open(fs.Path("self", "mountinfo"))
	if err != nil {
		return true
	}
	defer f.Close()
	groups, _ := os.Getgroups()
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	hidden, found := parseHidePID(f, dev, append(groups, os.Getegid()))
	return hidden || !found
}

// hasCapability reports whether this process has capability bit c in
// its effective set (CapEff in /proc/self/status).
func hasCapability(c uint) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("CapEff:")); ok {
			eff, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 16, 64)
			return err == nil && eff&(1<<c) != 0
		}
	}
	return false
}

// parseHidePID reads /proc/self/mountinfo for the proc mount of device
// dev ("MAJ:MIN") and reports whether its super options hide other users'
// processes from a reader in groups, and whether the mount was found. A
// line is "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE
// SOURCE SUPEROPTS".
func parseHidePID(r io.Reader, dev string, groups []int) (hidden, found bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || f[2] != dev || g[0] != "proc" {
			continue
		}
		found, hidden = true, false
		mode, gid := "", -1
		for _, opt := range strings.Split(g[2], ",") {
			switch k, v, _ := strings.Cut(opt, "="); k {
			case "hidepid":
				mode = v
			case "gid":
				if n, err := strconv.Atoi(v); err == nil {
					gid = n
				}
			}
		}
		switch mode {
		case "invisible", "2":
			hidden = gid < 0 || !slices.Contains(groups, gid)
		case "ptraceable", "4":
			hidden = true
		}
	}
	return hidden, found
}
