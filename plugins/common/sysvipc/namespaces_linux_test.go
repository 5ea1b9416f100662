package sysvipc

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestNamespaces makes two child IPC namespaces with different objects and
// limits, and reads each by entering it: each is reported apart and right,
// and this process's own namespace is untouched by the reads.
func TestNamespaces(t *testing.T) {
	if !ipctest.Enter(t) {
		return
	}
	if err := ipctest.SetSemLimits(250, 32000, 32, 50); err != nil {
		t.Fatal(err)
	}
	if _, err := ipctest.SemGet(0, 2, 0o600); err != nil {
		t.Fatal(err)
	}
	a := ipctest.StartChildNamespace(t, [4]int{100, 1000, 10, 20}, 3, 33)
	b := ipctest.StartChildNamespace(t, [4]int{50, 500, 5, 10}, 7, 33)

	fs, err := NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	nss, err := fs.Namespaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(nss) != 3 || !nss[0].Self {
		t.Fatalf("namespaces %+v, want 3 with this one first", nss)
	}
	pids := []int{nss[1].PID, nss[2].PID}
	slices.Sort(pids)
	if want := []int{min(a.PID, b.PID), max(a.PID, b.PID)}; !slices.Equal(pids, want) {
		t.Errorf("namespace pids %v, want %v", pids, want)
	}

	want := map[int]struct{ arrays, semmni int64 }{a.PID: {3, 20}, b.PID: {7, 10}}
	for _, n := range nss[1:] {
		err := fs.InNamespace(n.PID, func(inside FS) error {
			snap, err := inside.Snapshot()
			if err != nil {
				return err
			}
			u, err := inside.Usage()
			if err != nil {
				return err
			}
			w := want[n.PID]
			if int64(len(snap.Sem)) != w.arrays || u.SemArrays != w.arrays || snap.Limits.SEMMNI != w.semmni {
				t.Errorf("%s: %d arrays listed, %d counted, SEMMNI %d; want %d, %d", n.Label(), len(snap.Sem), u.SemArrays, snap.Limits.SEMMNI, w.arrays, w.semmni)
			}
			// The arrays' creator exited and no Apache runs: stale, judged
			// inside the namespace with the probes on this thread.
			a, err := inside.Assess(snap.Sem, inside.Prober(), Policy{ApacheUIDs: map[uint32]bool{33: true}, Now: time.Now()})
			if err != nil {
				return err
			}
			if got := Count(a.Arrays, Stale); int64(got) != w.arrays {
				t.Errorf("%s: %d stale, want %d: %v", n.Label(), got, w.arrays, a.Arrays)
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", n.Label(), err)
		}
	}
	// Still this namespace, with its one array and SEMMNI 50.
	snap, err := fs.Snapshot()
	if err != nil || len(snap.Sem) != 1 || snap.Limits.SEMMNI != 50 {
		t.Errorf("own namespace after the visits: %d arrays, SEMMNI %d, %v", len(snap.Sem), snap.Limits.SEMMNI, err)
	}
	// A namespace whose process is gone is ErrNamespaceGone: the faces
	// skip it instead of failing.
	if err := fs.InNamespace(999999, func(FS) error { return nil }); !errors.Is(err, ErrNamespaceGone) {
		t.Errorf("entering a missing pid's namespace: %v, want ErrNamespaceGone", err)
	}
}

func TestParseContainerID(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tt := range []struct{ cgroup, want string }{
		{"0::/system.slice/docker-" + id + ".scope\n", id},
		{"12:memory:/docker/" + id + "\n", id},
		{"0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + id + ".scope\n", id},
		{"0::/machine.slice/libpod-" + id + ".scope/container\n", id},
		{"0::/user.slice/user-0.slice/session-1.scope\n", ""},
	} {
		if got := parseContainerID([]byte(tt.cgroup)); got != tt.want {
			t.Errorf("parseContainerID(%q) = %q, want %q", tt.cgroup, got, tt.want)
		}
	}
	if _, err := parseNSLink("net:[1]", "p"); err == nil || err.Error() != `error parsing file: p: link "net:[1]" is not ipc:[INODE]` {
		t.Errorf("parseNSLink: %v", err)
	}
}
