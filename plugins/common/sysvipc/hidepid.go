package sysvipc

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// hidesProcesses reports whether the proc mount the FS reads hides other
// users' processes from this reader: hidepid=invisible (or 2) lists only
// one's own, unless the reader is root or in the group its gid= option
// names. (hidepid=noaccess lists them and refuses their files: the census
// sees that per process.)
func (fs FS) hidesProcesses() bool {
	if !fs.live || os.Geteuid() == 0 {
		return false
	}
	f, err := os.Open(fs.Path("self", "mountinfo"))
	if err != nil {
		return false
	}
	defer f.Close()
	groups, _ := os.Getgroups()
	return parseHidePID(f, filepath.Clean(fs.proc), append(groups, os.Getegid()))
}

// parseHidePID reads /proc/self/mountinfo for the last proc mount at
// mountPoint and reports whether its super options hide other users'
// processes from a reader in groups. A line is
// "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS".
func parseHidePID(r io.Reader, mountPoint string, groups []int) bool {
	hidden := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || f[4] != mountPoint || g[0] != "proc" {
			continue
		}
		hidden = false
		var gid = -1
		for _, opt := range strings.Split(g[2], ",") {
			switch k, v, _ := strings.Cut(opt, "="); k {
			case "hidepid":
				hidden = v == "invisible" || v == "2"
			case "gid":
				if n, err := strconv.Atoi(v); err == nil {
					gid = n
				}
			}
		}
		if gid >= 0 && slices.Contains(groups, gid) {
			hidden = false
		}
	}
	return hidden
}
