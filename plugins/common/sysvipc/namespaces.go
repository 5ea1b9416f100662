package sysvipc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Namespace is one IPC namespace of the host: each container has its own,
// with its own objects and limits, that ipcs and every collector see only
// from inside.
type Namespace struct {
	Inode       uint64 // the namespace's identity: the inode of /proc/<pid>/ns/ipc
	PID         int    // the lowest pid in it, through which it is entered
	ContainerID string // from the pid's cgroup path, when it names one
	Self        bool   // the namespace this process runs in
}

// Label names the namespace for people: its container, else its inode.
func (n Namespace) Label() string {
	if n.ContainerID != "" {
		return fmt.Sprintf("ipc:[%d] (container %.12s, pid %d)", n.Inode, n.ContainerID, n.PID)
	}
	return fmt.Sprintf("ipc:[%d] (pid %d)", n.Inode, n.PID)
}

// Namespaces lists the distinct IPC namespaces of the processes under the
// mount point, this process's own first. Processes that exit meanwhile are
// skipped; reading other processes' links needs root (or CAP_SYS_PTRACE).
func (fs FS) Namespaces() ([]Namespace, error) {
	self, err := fs.IPCNamespace("self")
	if err != nil {
		return nil, err
	}
	pids, err := fs.listPIDs()
	if err != nil {
		return nil, err
	}
	byInode := map[uint64]*Namespace{}
	for _, pid := range pids {
		name := strconv.Itoa(pid)
		inode, err := fs.IPCNamespace(name)
		if err != nil {
			continue
		}
		if n, ok := byInode[inode]; ok && n.PID < pid {
			continue
		}
		cgroup, _ := os.ReadFile(fs.Path(name, "cgroup"))
		byInode[inode] = &Namespace{Inode: inode, PID: pid, ContainerID: parseContainerID(cgroup), Self: inode == self}
	}
	out := make([]Namespace, 0, len(byInode))
	for _, n := range byInode {
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b Namespace) int {
		switch {
		case a.Self != b.Self:
			if a.Self {
				return -1
			}
			return 1
		case a.PID != b.PID:
			return a.PID - b.PID
		}
		return 0
	})
	return out, nil
}

// IPCNamespace reads the inode of /proc/<pid>/ns/ipc ("self" for this
// process).
func (fs FS) IPCNamespace(pid string) (uint64, error) {
	path := fs.Path(pid, "ns", "ipc")
	link, err := os.Readlink(path)
	if err != nil {
		return 0, fmt.Errorf("could not read %s: %w", path, err)
	}
	return parseNSLink(link, path)
}

// parseNSLink parses a namespace link's target, "ipc:[4026531839]".
func parseNSLink(link, path string) (uint64, error) {
	inner, ok := strings.CutPrefix(link, "ipc:[")
	inner, ok2 := strings.CutSuffix(inner, "]")
	if !ok || !ok2 {
		return 0, fmt.Errorf("%w: %s: link %q is not ipc:[INODE]", ErrFileParse, path, link)
	}
	v, err := strconv.ParseUint(inner, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: invalid inode %q: %w", ErrFileParse, path, inner, err)
	}
	return v, nil
}

// containerIDPattern finds a 64-hex container id in a cgroup path as
// Docker (docker-ID.scope, /docker/ID), containerd and CRI-O
// (cri-containerd-ID, crio-ID) and Podman (libpod-ID) write them.
// Compiled on first use: check_sysvipc starts every minute on every host
// and most runs never look at a cgroup.
var containerIDPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?:docker|cri-containerd|crio|libpod|containerd)[-/]([0-9a-f]{64})`)
})

// parseContainerID finds the container id in /proc/<pid>/cgroup; "" when
// the process is in no container this recognises.
func parseContainerID(cgroup []byte) string {
	for line := range bytes.Lines(cgroup) {
		if m := containerIDPattern().FindSubmatch(line); m != nil {
			return string(m[1])
		}
	}
	return ""
}

// ErrNamespaceGone means the namespace's process exited before it could be
// entered: the namespace may be gone, and callers skip it.
var ErrNamespaceGone = errors.New("namespace vanished")
