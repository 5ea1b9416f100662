package sysvipc

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// synthSem is a /proc/sysvipc/sem table of n Apache-style rows, formatted
// as the kernel does.
func synthSem(n int) []byte {
	var b bytes.Buffer
	b.WriteString("       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n")
	for i := range n {
		fmt.Fprintf(&b, "%10d %10d  %4o %10d %5d %5d %5d %5d %10d %10d\n", 0, i, 0o600, 1, 33, 33, 0, 0, 1795789473, 1795789472)
	}
	return b.Bytes()
}

// BenchmarkParseSem parses 32,000 rows from memory. allocs/op stays a
// handful (the row slice growing), none per field or per row.
func BenchmarkParseSem(b *testing.B) {
	in := synthSem(32000)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		rows, err := parseSem(bytes.NewReader(in), "f")
		if err != nil || len(rows) != 32000 {
			b.Fatal(err, len(rows))
		}
	}
}

func TestParseAllocsPerRow(t *testing.T) {
	small, large := synthSem(1000), synthSem(32000)
	allocs := func(in []byte) float64 {
		return testing.AllocsPerRun(5, func() {
			if _, err := parseSem(bytes.NewReader(in), "f"); err != nil {
				t.Fatal(err)
			}
		})
	}
	a, b := allocs(small), allocs(large)
	// 32x the rows may add only the row slice's growth steps (1.25x past
	// 256 elements: about 16 more), never one per row or field.
	if b-a > 20 || b > 64 {
		t.Errorf("allocations: %v at 1,000 rows, %v at 32,000: parsing allocates per row", a, b)
	}
}

// benchLive skips unless the benchmark runs in the private namespace that
// .ci/bench.sh makes (it creates and counts kernel objects).
func benchLive(b *testing.B) FS {
	if !ipctest.Inside() {
		b.Skip("run by make bench inside a private IPC namespace")
	}
	fs, err := NewDefaultFS()
	if err != nil {
		b.Fatal(err)
	}
	return fs
}

// BenchmarkSnapshot is the full inventory (sem+shm+msg and limits) of
// whatever the namespace holds (bench.sh fills it with 32,000 arrays).
func BenchmarkSnapshot(b *testing.B) {
	fs := benchLive(b)
	for b.Loop() {
		if _, err := fs.Snapshot(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSemFile parses /proc/sysvipc/sem, the path fixture trees and
// kernels before 4.17 take.
func BenchmarkSemFile(b *testing.B) {
	fs := benchLive(b)
	for b.Loop() {
		if _, err := fs.SemArrays(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawRead reads the three tables without parsing, like cat: the
// baseline BenchmarkSnapshot is compared with.
func BenchmarkRawRead(b *testing.B) {
	benchLive(b)
	buf := make([]byte, readBufferSize)
	for b.Loop() {
		for _, name := range []string{"sem", "shm", "msg"} {
			f, err := os.Open("/proc/sysvipc/" + name)
			if err != nil {
				b.Fatal(err)
			}
			for {
				n, err := f.Read(buf)
				if n == 0 || err != nil {
					break
				}
			}
			f.Close()
		}
	}
}

// BenchmarkUsage is the O(1) count: the same at 0 and 32,000 arrays.
func BenchmarkUsage(b *testing.B) {
	fs := benchLive(b)
	for b.Loop() {
		if _, err := fs.Usage(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssess classifies every array (census, semctl per candidate).
func BenchmarkAssess(b *testing.B) {
	fs := benchLive(b)
	arrays, err := fs.SemArrays()
	if err != nil {
		b.Fatal(err)
	}
	uids, _ := LookupUsers(DefaultApacheUsers, false)
	pol := Policy{ApacheUIDs: UIDSet(uids), Now: time.Now()}
	b.ReportMetric(float64(len(arrays)), "arrays")
	for b.Loop() {
		if _, err := fs.Assess(arrays, Kernel{}, pol); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssessLiveCounts is the check's path: list and probe in one
// pass, census after, counts only.
func BenchmarkAssessLiveCounts(b *testing.B) {
	fs := benchLive(b)
	uids, _ := LookupUsers(DefaultApacheUsers, false)
	pol := Policy{ApacheUIDs: UIDSet(uids), Now: time.Now()}
	for b.Loop() {
		if _, err := fs.AssessLiveCounts(pol); err != nil {
			b.Fatal(err)
		}
	}
}
