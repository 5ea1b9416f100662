package sysvipc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func fixtureFS(t testing.TB, name string) FS {
	t.Helper()
	fs, err := NewFS(filepath.Join("testdata", name, "proc"))
	if err != nil {
		t.Fatal(err)
	}
	if fs.Live() {
		t.Fatal("a fixture tree must not count as a live procfs")
	}
	return fs
}

const ctime = 1795789216

func TestSemArraysObjects(t *testing.T) {
	got, err := fixtureFS(t, "objects").SemArrays()
	if err != nil {
		t.Fatal(err)
	}
	row := func(key, id int32, perms uint32, nsems uint64, uid uint32) SemArray {
		return SemArray{Key: key, SemID: id, Perms: perms, NSems: nsems, UID: uid, GID: uid, CUID: uid, CGID: uid, CTime: ctime}
	}
	want := []SemArray{
		row(0, 0, 0o600, 1, 0), row(0, 1, 0o600, 1, 0), row(1, 2, 0o600, 1, 0), row(-1, 3, 0o600, 1, 0),
		row(2147483647, 4, 0o600, 1, 0), row(-2147483648, 5, 0o600, 1, 0), row(195939070, 6, 0o600, 1, 0),
		row(0, 7, 0o666, 250, 0), row(0, 8, 0o600, 1, 33), row(0, 9, 0o600, 1, 33), row(0, 10, 0o600, 1, 65534),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SemArrays() mismatch (-want +got):\n%s", diff)
	}
}

func TestShmSegments(t *testing.T) {
	for _, fixture := range []string{"objects", "oldshm"} {
		t.Run(fixture, func(t *testing.T) {
			got, err := fixtureFS(t, fixture).ShmSegments()
			if err != nil {
				t.Fatal(err)
			}
			want := []ShmSegment{
				{Key: 20480, ShmID: 0, Perms: 0o640, Size: 1, CPID: 10580, CTime: ctime},
				{Key: 20481, ShmID: 1, Perms: 0o640, Size: 4096, CPID: 10580, CTime: ctime},
				{Key: 20482, ShmID: 2, Perms: 0o640, Size: 1 << 20, CPID: 10580, CTime: ctime},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ShmSegments() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMsgQueues(t *testing.T) {
	got, err := fixtureFS(t, "objects").MsgQueues()
	if err != nil {
		t.Fatal(err)
	}
	want := []MsgQueue{
		{Key: 24576, MsqID: 0, Perms: 0o600, CBytes: 14, QNum: 3, LSPID: 10580, STime: ctime, CTime: ctime},
		{Key: 0, MsqID: 1, Perms: 0o600, CTime: ctime},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MsgQueues() mismatch (-want +got):\n%s", diff)
	}
}

func TestLimits(t *testing.T) {
	got, err := fixtureFS(t, "objects").Limits()
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{
		SEMMSL: 32000, SEMMNS: 1024000000, SEMOPM: 500, SEMMNI: 32000, SEMVMX: 32767,
		SHMMAX: 18446744073692774399, SHMALL: 18446744073692774399, SHMMNI: 4096,
		MSGMAX: 8192, MSGMNB: 16384, MSGMNI: 32000, Source: "/proc/sys/kernel",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Limits() mismatch (-want +got):\n%s", diff)
	}
}

func TestUsageFromFiles(t *testing.T) {
	got, err := fixtureFS(t, "objects").Usage()
	if err != nil {
		t.Fatal(err)
	}
	want := Usage{SemArrays: 11, Semaphores: 260, ShmSegments: 3, ShmPages: 1 + 1 + 256, MsgQueues: 2, Messages: 3, MsgBytes: 14, Source: "files"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Usage() mismatch (-want +got):\n%s", diff)
	}
}

func TestSnapshotIdle(t *testing.T) {
	s, err := fixtureFS(t, "idle").Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sem)+len(s.Shm)+len(s.Msg) != 0 {
		t.Errorf("idle snapshot has objects: %d sem, %d shm, %d msg", len(s.Sem), len(s.Shm), len(s.Msg))
	}
	if s.Limits.SEMMNI != 32000 {
		t.Errorf("SEMMNI = %d, want 32000", s.Limits.SEMMNI)
	}
}

func TestParseErrors(t *testing.T) {
	const semHeader = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n"
	tests := []struct {
		name, input, want string
		parse             func(string) error
	}{
		{"empty", "", "error parsing file: f: missing header", semParse},
		{"no key column", "semid nsems uid\n", `error parsing file: f: header has no "key" column`, semParse},
		{"short row", semHeader + "0 1 600 1\n", "error parsing file: f line 2: 4 fields, header has 10", semParse},
		{"bad key", semHeader + "x 1 600 1 0 0 0 0 0 0\n", `error parsing file: f line 2: invalid key "x": strconv.ParseInt: parsing "x": invalid syntax`, semParse},
		{"key overflow", semHeader + "2147483648 1 600 1 0 0 0 0 0 0\n", `error parsing file: f line 2: invalid key "2147483648": strconv.ParseInt: parsing "2147483648": value out of range`, semParse},
		{"perms not octal", semHeader + "0 1 689 1 0 0 0 0 0 0\n", `error parsing file: f line 2: invalid perms "689": strconv.ParseUint: parsing "689": invalid syntax`, semParse},
		{"negative nsems", semHeader + "0 1 600 -1 0 0 0 0 0 0\n", `error parsing file: f line 2: invalid nsems "-1": strconv.ParseUint: parsing "-1": invalid syntax`, semParse},
		{"shm bad size", "key shmid perms size nattch uid\n1 2 600 big 0 0\n", `error parsing file: f line 2: invalid size "big": strconv.ParseUint: parsing "big": invalid syntax`, shmParse},
		{"msg missing qnum", "key msqid perms cbytes uid\n", `error parsing file: f: header has no "qnum" column`, msgParse},
		{"kernel.sem three fields", "250 32000 32", "error parsing file: f: want 4 fields (SEMMSL SEMMNS SEMOPM SEMMNI), got 3", kernelSemParse},
		{"kernel.sem bad SEMMNI", "250 32000 32 lots", `error parsing file: f: invalid SEMMNI "lots": strconv.ParseInt: parsing "lots": invalid syntax`, kernelSemParse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse(tt.input)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrFileParse) {
				t.Errorf("error %v does not wrap ErrFileParse", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func semParse(s string) error { _, err := parseSem(strings.NewReader(s), "f"); return err }
func shmParse(s string) error { _, err := parseShm(strings.NewReader(s), "f"); return err }
func msgParse(s string) error { _, err := parseMsg(strings.NewReader(s), "f"); return err }
func kernelSemParse(s string) error {
	_, _, _, _, err := parseKernelSem(strings.NewReader(s), "f")
	return err
}

func TestExtraColumnIgnored(t *testing.T) {
	in := "key semid perms nsems uid future otime ctime\n5 7 600 2 33 zzz 10 20\n"
	got, err := parseSem(strings.NewReader(in), "f")
	if err != nil {
		t.Fatal(err)
	}
	want := []SemArray{{Key: 5, SemID: 7, Perms: 0o600, NSems: 2, UID: 33, OTime: 10, CTime: 20}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestNoSysVIPC(t *testing.T) {
	dir := t.TempDir()
	fs, err := NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fs.SemArrays()
	want := "system v ipc not available: " + filepath.Join(dir, "sysvipc") + " is missing (kernel without CONFIG_SYSVIPC or a sandbox hiding it)"
	if !errors.Is(err, ErrNoSysVIPC) || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}

func TestLimitsMissingFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sys", "kernel"), 0o755); err != nil {
		t.Fatal(err)
	}
	fs, _ := NewFS(dir)
	_, err := fs.Limits()
	want := "could not read " + filepath.Join(dir, "sys", "kernel", "sem") + ": open " + filepath.Join(dir, "sys", "kernel", "sem") + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}

func TestNewFSNotDir(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := NewFS(f)
	if want := `mount point "` + f + `" is not a directory`; err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}

func readFixture(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", name))
}

// TestSemArraysLeaked reads a capture of Apache's mutexes: created by the
// root master (cuid 0), handed to www-data by IPC_SET (uid 33).
func TestSemArraysLeaked(t *testing.T) {
	got, err := fixtureFS(t, "leaked").SemArrays()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 {
		t.Fatalf("%d arrays, want 9", len(got))
	}
	for _, a := range got {
		if a.Key != 0 || a.NSems != 1 || a.UID != 33 || a.CUID != 0 || a.Perms != 0o600 || a.CTime == 0 {
			t.Errorf("not an Apache mutex: %+v", a)
		}
	}
	if got[1].OTime != 1795789473 {
		t.Errorf("semid 3 otime = %d, want 1795789473", got[1].OTime)
	}
}
