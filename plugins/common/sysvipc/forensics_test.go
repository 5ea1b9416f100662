package sysvipc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// boot is the printk clock's start in the fixtures.
var boot = time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)

func TestKernelLogFixtures(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []Death
	}{
		{"linux-6.x", []Death{
			{Cause: CauseOOMKilled, PID: 4242, Comm: "apache2", At: boot.Add(3601250100 * time.Microsecond),
				Line: "Memory cgroup out of memory: Killed process 4242 (apache2) total-vm:89096kB, anon-rss:2048kB, file-rss:6144kB, shmem-rss:128kB, UID:0 pgtables:180kB oom_score_adj:1000"},
			{Cause: CauseOOMKilled, PID: 4243, Comm: "apache2", At: boot.Add(3601260100 * time.Microsecond),
				Line: "Memory cgroup out of memory: Killed process 4243 (apache2) total-vm:89096kB, anon-rss:2048kB, file-rss:6144kB, shmem-rss:128kB, UID:33 pgtables:180kB oom_score_adj:1000"},
			{Cause: CauseCrashed, PID: 5345, Comm: "apache2", At: boot.Add(3700000000 * time.Microsecond),
				Line: "apache2[5345]: segfault at 0 ip 00007f0000001234 sp 00007ffd00000000 error 4 in mod_foo.so[7f0000000000+2000] likely on CPU 1 (core 1, socket 0)"},
			{Cause: CauseCrashed, PID: 5346, Comm: "apache2", At: boot.Add(3700000100 * time.Microsecond),
				Line: "traps: apache2[5346] general protection fault ip:7f0000001234 sp:7ffd00000000 error:0 in libc.so.6[7f0000000000+155000]"},
		}},
		{"linux-5.x", []Death{
			{Cause: CauseOOMKilled, PID: 1234, Comm: "apache2", At: boot.Add(1234567900 * time.Microsecond),
				Line: "Out of memory: Killed process 1234 (apache2) total-vm:512000kB, anon-rss:400000kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:900kB oom_score_adj:0"},
			{Cause: CauseOOMKilled, PID: 777, Comm: "httpd", At: boot.Add(1234600000 * time.Microsecond),
				Line: "Out of memory: Kill process 777 (httpd) score 901 or sacrifice child"},
			{Cause: CauseOOMKilled, PID: 777, Comm: "httpd", At: boot.Add(1234600100 * time.Microsecond),
				Line: "Killed process 777 (httpd) total-vm:1000kB, anon-rss:100kB, file-rss:0kB, shmem-rss:0kB"},
			{Cause: CauseCrashed, PID: 888, Comm: "httpd", At: boot.Add(1234700000 * time.Microsecond),
				Line: "httpd/888: potentially unexpected fatal signal 11."},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			log, err := ReadKernelLog(filepath.Join("testdata/kmsg", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got := KernelDeaths(log, boot)
			if len(got) != len(tc.want) {
				t.Fatalf("%d deaths, want %d: %+v", len(got), len(tc.want), got)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("death %d:\n got %+v\nwant %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestKernelRecordErrors(t *testing.T) {
	for in, want := range map[string]string{
		"no prefix at all":            `no ';' after the record's prefix "no prefix at all"`,
		"6,1;x":                       `prefix "6,1": want prio,seq,usec,flags`,
		"x,1,2,-;m":                   `invalid priority "x"`,
		"6,-1,2,-;m":                  `invalid sequence number "-1"`,
		"6,1,-5,-;m":                  `invalid timestamp "-5"`,
		"6,1,99999999999999999999,-;": `invalid timestamp "99999999999999999999"`,
	} {
		_, err := parseKernelRecord([]byte(in))
		if err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %s", in, err, want)
		}
	}
	_, err := parseKernelLog(strings.NewReader("6,1,2,-;ok\n SUBSYSTEM=x\nbroken\n"), "saved.log")
	if want := `error parsing file: saved.log: line 3: no ';' after the record's prefix "broken"`; err == nil || err.Error() != want {
		t.Errorf("saved log: %v, want %s", err, want)
	}
}

func TestKernelLogUnreadable(t *testing.T) {
	_, err := ReadKernelLog("testdata/kmsg/missing")
	if !errors.Is(err, ErrKernelLogUnreadable) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing log: %v", err)
	}
}

func TestQuoteLineBounds(t *testing.T) {
	long := "Out of memory: Killed process 1 (apache2) " + strings.Repeat("é", 200) + "\x1b[2J"
	got := quoteLine(long)
	if len(got) > maxLogLine || !strings.HasPrefix(got, "Out of memory: Killed process 1 (apache2) é") || strings.ContainsRune(got, 0x1b) {
		t.Errorf("quoted %d bytes: %q", len(got), got)
	}
	if got := quoteLine("a\x1bb"); got != "a?b" {
		t.Errorf("control character: %q", got)
	}
}

func TestJournalDeaths(t *testing.T) {
	journal := strings.Join([]string{
		`{"MESSAGE":"Started apache2.service - The Apache HTTP Server.","__REALTIME_TIMESTAMP":"1796526000000000"}`,
		`{"MESSAGE":"apache2.service: State 'stop-sigterm' timed out. Killing.","__REALTIME_TIMESTAMP":"1796526100000000"}`,
		`{"MESSAGE":"apache2.service: Killing process 2001 (apache2) with signal SIGKILL.","__REALTIME_TIMESTAMP":"1796526100000100"}`,
		`{"MESSAGE":[1,2,3],"__REALTIME_TIMESTAMP":"1796526100000200"}`,
		`{"MESSAGE":"apache2.service: Failed with result 'timeout'.","__REALTIME_TIMESTAMP":"1796526100000300"}`,
		`{"MESSAGE":"httpd.service: Main process exited, code=killed, status=9/KILL","__REALTIME_TIMESTAMP":"1796526200000000"}`,
		`{"MESSAGE":"httpd.service: Killing process 3001 (httpd) with signal SIGKILL.","__REALTIME_TIMESTAMP":"1796526200000100"}`,
	}, "\n")
	got, err := parseJournal(strings.NewReader(journal), false)
	if err != nil {
		t.Fatal(err)
	}
	want := []Death{
		{Cause: CauseStopTimeout, Unit: "apache2.service", At: time.UnixMicro(1796526100000000), Line: "apache2.service: State 'stop-sigterm' timed out. Killing."},
		{Cause: CauseStopTimeout, Unit: "apache2.service", PID: 2001, Comm: "apache2", At: time.UnixMicro(1796526100000100), Line: "apache2.service: Killing process 2001 (apache2) with signal SIGKILL."},
		{Cause: CauseKilled, Unit: "httpd.service", At: time.UnixMicro(1796526200000000), Line: "httpd.service: Main process exited, code=killed, status=9/KILL"},
		{Cause: CauseKilled, Unit: "httpd.service", PID: 3001, Comm: "httpd", At: time.UnixMicro(1796526200000100), Line: "httpd.service: Killing process 3001 (httpd) with signal SIGKILL."},
	}
	if len(got) != len(want) {
		t.Fatalf("%d deaths, want %d: %+v", len(got), len(want), got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("death %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	_, err = parseJournal(strings.NewReader(`{"MESSAGE":"apache2.service: State 'stop-sigterm' timed out. Killing.","__REALTIME_TIMESTAMP":"soon"}`), false)
	if want := `error parsing file: journal line 1: invalid __REALTIME_TIMESTAMP "soon"`; err == nil || err.Error() != want {
		t.Errorf("bad timestamp: %v, want %s", err, want)
	}
}

func TestGenerations(t *testing.T) {
	arrays := []LeakedArray{
		{SemID: 10, PID: 500, CTime: 1000},
		{SemID: 11, PID: 501, CTime: 1001},
		{SemID: 12, PID: 0, CTime: 1002},
		{SemID: 20, PID: 600, CTime: 1100}, // 98 s later: another start
		{SemID: 30, PID: 700, CTime: 1001, Unit: "apache2.service", Master: 690},
		{SemID: 31, PID: 0, CTime: 1001, Unit: "apache2.service", Master: 690},
	}
	got := Generations(arrays)
	want := []struct {
		arrays, pids string
		unit         string
	}{
		{"[10 11 12]", "[500 501]", ""},
		{"[30 31]", "[690 700]", "apache2.service"},
		{"[20]", "[600]", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d generations, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if s := sprint(got[i].Arrays); s != w.arrays || sprint(got[i].PIDs) != w.pids || got[i].Unit != w.unit {
			t.Errorf("generation %d: arrays %v pids %v unit %q, want %s %s %q", i, got[i].Arrays, got[i].PIDs, got[i].Unit, w.arrays, w.pids, w.unit)
		}
	}
}

func TestAttribute(t *testing.T) {
	start := time.Date(2026, 12, 6, 3, 10, 0, 0, time.UTC)
	gen := Generation{Arrays: []int32{1}, Start: start, PIDs: []int{4242, 4250}, Unit: "apache2.service"}
	oom := Death{Cause: CauseOOMKilled, PID: 4242, Comm: "apache2", At: start.Add(4 * time.Minute), Line: "Out of memory: Killed process 4242 (apache2)"}
	for _, tc := range []struct {
		name  string
		ev    DeathEvidence
		cause Cause
		why   string
	}{
		{"oom kill of one of its pids", DeathEvidence{Deaths: []Death{oom}, KernelFrom: start.Add(-time.Hour)}, CauseOOMKilled, ""},
		{"oom wins over the stop timeout", DeathEvidence{Deaths: []Death{
			{Cause: CauseStopTimeout, Unit: "apache2.service", At: start.Add(time.Minute)}, oom}, KernelFrom: start.Add(-time.Hour)}, CauseOOMKilled, ""},
		{"the unit's stop timeout", DeathEvidence{Deaths: []Death{
			{Cause: CauseStopTimeout, Unit: "apache2.service", At: start.Add(time.Minute)}}, KernelFrom: start.Add(-time.Hour)}, CauseStopTimeout, ""},
		{"another unit's stop timeout", DeathEvidence{Deaths: []Death{
			{Cause: CauseStopTimeout, Unit: "httpd.service", At: start.Add(time.Minute)}}, KernelFrom: start.Add(-time.Hour)},
			CauseUnknown, "no kernel log line names pid 4242, 4250"},
		{"a crash", DeathEvidence{Deaths: []Death{{Cause: CauseCrashed, PID: 4250, At: start.Add(time.Second)}}, KernelFrom: start.Add(-time.Hour)}, CauseCrashed, ""},
		{"an oom kill of a pid before the start (reused number)", DeathEvidence{Deaths: []Death{
			{Cause: CauseOOMKilled, PID: 4242, At: start.Add(-time.Hour)}}, KernelFrom: start.Add(-2 * time.Hour)},
			CauseUnknown, "no kernel log line names pid 4242, 4250"},
		{"another pid killed", DeathEvidence{Deaths: []Death{{Cause: CauseOOMKilled, PID: 9999, At: start.Add(time.Minute)}}, KernelFrom: start.Add(-time.Hour)},
			CauseUnknown, "no kernel log line names pid 4242, 4250"},
		{"rotated out of the ring buffer", DeathEvidence{KernelFrom: start.Add(time.Hour)}, CauseUnknown,
			"no kernel log line names pid 4242, 4250; the kernel log begins at 2026-12-06T04:10:00Z, after these arrays were made: the lines of their Apache's death may have rotated out"},
		{"the kernel log unreadable, no journal", DeathEvidence{KernelErr: errors.New("kernel log unreadable: open /dev/kmsg: operation not permitted"),
			JournalErr: errors.New("journal unavailable: no journalctl")}, CauseUnknown,
			"kernel log unreadable: open /dev/kmsg: operation not permitted; journal not read: journal unavailable: no journalctl"},
		{"a crash, then an OOM kill of the number reused", DeathEvidence{Deaths: []Death{
			{Cause: CauseCrashed, PID: 4242, Comm: "apache2", At: start.Add(time.Minute)},
			{Cause: CauseOOMKilled, PID: 4242, Comm: "java", At: start.Add(5 * time.Hour)}}, KernelFrom: start.Add(-time.Hour)}, CauseCrashed, ""},
		{"a silent death, then the number reused by another program", DeathEvidence{Deaths: []Death{
			{Cause: CauseCrashed, PID: 4242, Comm: "java", At: start.Add(time.Hour)}}, KernelFrom: start.Add(-time.Hour)},
			CauseUnknown, "no kernel log line names pid 4242, 4250"},
		{"the unit's timeout, and systemd's SIGKILL of one of its pids", DeathEvidence{Deaths: []Death{
			{Cause: CauseStopTimeout, PID: 4250, Comm: "apache2", Unit: "apache2.service", At: start.Add(time.Minute)}}, KernelFrom: start.Add(-time.Hour)}, CauseStopTimeout, ""},
		{"the pid namespace is not the host's", DeathEvidence{Deaths: []Death{oom}, ForeignPIDs: true}, CauseUnknown,
			"this PID namespace is not the host's: its pids are not the ones the kernel and systemd log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Attribute([]Generation{gen}, tc.ev)[0]
			if got.Cause != tc.cause || got.Why != tc.why || (got.Death == nil) != (tc.cause == CauseUnknown) {
				t.Errorf("cause %s, why %q, death %+v; want %s, %q", got.Cause, got.Why, got.Death, tc.cause, tc.why)
			}
		})
	}
	nameless := Attribute([]Generation{{Arrays: []int32{1}, Start: start}}, DeathEvidence{Deaths: []Death{oom}})[0]
	if nameless.Cause != CauseUnknown || !strings.HasPrefix(nameless.Why, "its arrays name no process") {
		t.Errorf("a generation naming no pid: %s %q", nameless.Cause, nameless.Why)
	}
}

func TestGenerationsLine(t *testing.T) {
	loc := time.Local
	time.Local = time.UTC
	defer func() { time.Local = loc }()
	start := time.Date(2026, 12, 6, 4, 2, 0, 0, time.UTC)
	oom := Generation{Start: start.Add(-time.Hour), Cause: CauseOOMKilled,
		Death: &Death{Cause: CauseOOMKilled, PID: 1234, Comm: "apache2", At: time.Date(2026, 12, 6, 3, 14, 5, 0, time.UTC)}}
	timeout := Generation{Cause: CauseStopTimeout, Death: &Death{Cause: CauseStopTimeout, Unit: "apache2.service", At: start}}
	unknown := Generation{Start: start, Cause: CauseUnknown}
	if got, want := GenerationsLine([]Generation{oom, unknown}), "2 leaked generations: 03:14 OOM killer (pid 1234 apache2), 04:02 cause unknown"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got, want := GenerationsLine([]Generation{timeout}), "1 leaked generation: 04:02 stop timeout (apache2.service)"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	many := GenerationsLine([]Generation{unknown, unknown, unknown, unknown, unknown, unknown, unknown})
	if !strings.HasPrefix(many, "7 leaked generations: ") || !strings.HasSuffix(many, ", and 2 more") {
		t.Errorf("seven generations: %q", many)
	}
	if got := CountByCause([]Generation{oom, unknown, unknown}); got[CauseOOMKilled] != 1 || got[CauseUnknown] != 2 || got[CauseKilled] != 0 || len(got) != len(Causes) {
		t.Errorf("counts %v", got)
	}
}

func sprint(v any) string { return fmt.Sprint(v) }

// TestReadKernelLogKeepsNewestWhenTextExceedsRing: the kernel log's text
// is longer than its ring buffer (prefixes, escapes); the newest records,
// where a recent death is, must be kept when the text exceeds the bound.
func TestReadKernelLogKeepsNewestWhenTextExceedsRing(t *testing.T) {
	var b strings.Builder
	filler := strings.Repeat("x", 150)
	for i := 0; b.Len() < textPerRingByte*kernelRingSize()+1<<16; i++ {
		fmt.Fprintf(&b, "6,%d,%d,-;filler %s\n", i, i, filler)
	}
	b.WriteString("3,999999999,999999999,-;Out of memory: Killed process 4242 (apache2) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:1kB oom_score_adj:0\n")
	path := filepath.Join(t.TempDir(), "kmsg")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := ReadKernelLog(path)
	if err != nil {
		t.Fatal(err)
	}
	deaths := KernelDeaths(log, boot)
	if len(deaths) != 1 || deaths[0].PID != 4242 {
		t.Errorf("the newest record, an OOM kill, is not read: %+v (%d records)", deaths, len(log.Records))
	}
}

// TestKernelDeathIgnoresOOMTextInFileName: the words after the kernel's
// own in a trap or segfault line (the file the fault was in) are the
// user's: naming a file "x: Killed process 1 (apache2) " must not forge
// an OOM kill; nor may a record a process wrote to /dev/kmsg.
func TestKernelDeathIgnoresOOMTextInFileName(t *testing.T) {
	log, err := parseKernelLog(strings.NewReader(strings.Join([]string{
		"6,1,1000,-;traps: forge[23509] trap invalid opcode ip:7f7785459000 sp:7ffd error:0 in x: Killed process 24567 (apache2) [7f7785459000+1000]",
		"14,2,2000,-;Out of memory: Killed process 24568 (apache2) total-vm:1kB",
		"3,3,3000,-;oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=a,pid=99,uid=0,pid=24569,uid=33",
	}, "\n")), "forged")
	if err != nil {
		t.Fatal(err)
	}
	got := KernelDeaths(log, boot)
	if len(got) != 1 || got[0].Cause != CauseCrashed || got[0].PID != 23509 || got[0].Comm != "forge" {
		t.Errorf("deaths %+v, want only the trap of pid 23509", got)
	}
}

// TestAttributeJournalLineOfLaterStartIgnored: a unit's stop timeout or
// SIGKILL without a pid counts for its recorded generation only until the
// unit's next leaked start.
func TestAttributeJournalLineOfLaterStartIgnored(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	gens := []Generation{
		{Arrays: []int32{1}, Start: t0, PIDs: []int{100}, Unit: "apache2.service"},
		{Arrays: []int32{2}, Start: t0.Add(time.Hour), PIDs: []int{200}, Unit: "apache2.service"},
	}
	ev := DeathEvidence{KernelFrom: t0.Add(-time.Hour), Deaths: []Death{
		{Cause: CauseStopTimeout, Unit: "apache2.service", At: t0.Add(2 * time.Hour), Line: "apache2.service: State 'stop-sigterm' timed out. Killing."},
	}}
	got := Attribute(gens, ev)
	if got[0].Cause != CauseUnknown || got[1].Cause != CauseStopTimeout {
		t.Errorf("causes %s, %s; want unknown for the first start, stop_timeout for the second", got[0].Cause, got[1].Cause)
	}
	killed := Attribute(gens[:1], DeathEvidence{KernelFrom: t0, Deaths: []Death{{Cause: CauseKilled, Unit: "apache2.service", At: t0.Add(time.Minute)}}})[0]
	if s := killed.Summary(); !strings.HasSuffix(s, " SIGKILL (apache2.service)") {
		t.Errorf("a main process killed by signal 9 is %q: nobody says systemd sent it", s)
	}
}

// TestParseJournalTruncatedKeepsDeaths: journalctl's output cut by the
// read's bound or its timeout ends in half a line; what came before is
// kept.
func TestParseJournalTruncatedKeepsDeaths(t *testing.T) {
	in := `{"MESSAGE":"apache2.service: State 'stop-sigterm' timed out. Killing.","__REALTIME_TIMESTAMP":"1796526100000000"}` + "\n" +
		`{"MESSAGE":"something else","__REALTIME_TI`
	got, err := parseJournal(strings.NewReader(in), false)
	if len(got) != 1 || got[0].Cause != CauseStopTimeout || err == nil {
		t.Errorf("deaths %+v, error %v; want the stop timeout kept and the cut said", got, err)
	}
}

// TestGenerationsSplitsCrashLoop: five starts 2.5 s apart (a crash loop)
// are five generations, not one chained by the gaps between them.
func TestGenerationsSplitsCrashLoop(t *testing.T) {
	var arrays []LeakedArray
	for start := range 5 {
		for i := range 3 {
			arrays = append(arrays, LeakedArray{SemID: int32(start*3 + i), PID: 1000 + start, CTime: 1000 + int64(start)*3})
		}
	}
	if got := Generations(arrays); len(got) != 5 {
		t.Errorf("%d generations, want 5: %+v", len(got), got)
	}
}

// TestGenerationDetailsBounded32000: 32,000 arrays with as many last pids
// in one generation: the reason and the line stay short.
func TestGenerationDetailsBounded32000(t *testing.T) {
	var arrays []LeakedArray
	for i := range 32000 {
		arrays = append(arrays, LeakedArray{SemID: int32(i), PID: 10000 + i, CTime: 1000})
	}
	begin := time.Now()
	gens := Attribute(Generations(arrays), DeathEvidence{KernelFrom: time.Unix(0, 0)})
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("grouping 32,000 arrays took %s", took)
	}
	if len(gens) != 1 || len(gens[0].Why) > maxLogLine {
		t.Fatalf("%d generations, reason of %d bytes", len(gens), len(gens[0].Why))
	}
	for _, l := range GenerationDetails(gens) {
		if len(l) > 2*maxLogLine {
			t.Errorf("a detail line of %d bytes", len(l))
		}
	}
}

// TestKernelDeathTrapCommWithBracketsNamesNoPID: a process may name
// itself "httpd[77] x" and trap: the pid is the one the kernel printed
// last, before its own words, never one inside the name.
func TestKernelDeathTrapCommWithBracketsNamesNoPID(t *testing.T) {
	for _, msg := range []string{
		`traps: httpd[77] x[811] trap invalid opcode ip:7f00 sp:7ffd error:0 in forge[7f00+1000]`,
		`traps: httpd[77] \x01\x01\x01\x01\x01[812] trap invalid opcode ip:7f00 sp:7ffd error:0`,
		`h[77]: segfault [813]: segfault at 0 ip 7f00 sp 7ffd error 4 in x[7f00+1000]`,
	} {
		cause, pid, _, ok := kernelDeath(msg)
		if !ok || cause != CauseCrashed || pid < 811 || pid > 813 {
			t.Errorf("%q: %v %s pid %d, want the kernel's pid", msg, ok, cause, pid)
		}
	}
}

// TestKernelDeathEscapedCommIsNotApache: a name of non-ASCII bytes
// prints escaped (up to 60 characters); a line whose name cannot be read
// is not taken for an Apache's death.
func TestKernelDeathEscapedCommIsNotApache(t *testing.T) {
	_, pid, comm, ok := kernelDeath(`Out of memory: Killed process 4242 (h\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3) total-vm:1kB`)
	if !ok || pid != 4242 || apacheComm(comm) {
		t.Errorf("pid %d comm %q ok %v: an escaped name is not Apache's", pid, comm, ok)
	}
	if _, _, comm, _ := kernelDeath(`Out of memory: Killed process 4242 (apache2) total-vm:1kB`); comm != "apache2" {
		t.Errorf("comm %q", comm)
	}
}

// TestAttributeUnitLineBeforeStartIgnored: a restart whose stop timed out
// leaves the previous start's lines a moment before the new master
// started, in the same second as its arrays: they are not its death.
func TestAttributeUnitLineBeforeStartIgnored(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	g := Generation{Arrays: []int32{1}, Start: t0, PIDs: []int{200}, Unit: "apache2.service", Began: t0.Add(500 * time.Millisecond)}
	ev := DeathEvidence{KernelFrom: t0.Add(-time.Hour), Deaths: []Death{
		{Cause: CauseStopTimeout, Unit: "apache2.service", At: t0.Add(300 * time.Millisecond)},
		{Cause: CauseKilled, Unit: "apache2.service", At: t0.Add(2 * time.Hour)},
	}}
	if got := Attribute([]Generation{g}, ev)[0]; got.Cause != CauseKilled {
		t.Errorf("cause %s, want killed: the timeout was the previous start's", got.Cause)
	}
}

// TestAttributeUnitLineAfterLaterRecordedStartIgnored: a later start of
// the unit that leaked nothing but is recorded bounds the old leak's life.
func TestAttributeUnitLineAfterLaterRecordedStartIgnored(t *testing.T) {
	t0 := time.Date(2026, 11, 6, 3, 0, 0, 0, time.UTC)
	g := Generation{Arrays: []int32{1}, Start: t0, PIDs: []int{100}, Unit: "apache2.service", Began: t0, Until: t0.Add(time.Hour)}
	ev := DeathEvidence{KernelFrom: t0.Add(-time.Hour), Deaths: []Death{
		{Cause: CauseStopTimeout, Unit: "apache2.service", At: t0.Add(30 * 24 * time.Hour)},
	}}
	if got := Attribute([]Generation{g}, ev)[0]; got.Cause != CauseUnknown {
		t.Errorf("cause %s, want unknown: the timeout came to a later start", got.Cause)
	}
}

// TestGenerationDetailsDeathOnAnotherDay: the detail line prints both
// times whole, with date and zone.
func TestGenerationDetailsDeathOnAnotherDay(t *testing.T) {
	loc := time.Local
	time.Local = time.UTC
	defer func() { time.Local = loc }()
	t0 := time.Date(2026, 11, 6, 3, 0, 0, 0, time.UTC)
	g := Generation{Arrays: []int32{7}, Start: t0, Cause: CauseOOMKilled,
		Death: &Death{Cause: CauseOOMKilled, PID: 1, Comm: "apache2", At: t0.Add(30 * 24 * time.Hour), Line: "Out of memory: Killed process 1 (apache2)"}}
	want := "made 2026-11-06 03:00:00 UTC, semid 7: oom_killed at 2026-12-06 03:00:00 UTC: Out of memory: Killed process 1 (apache2)"
	if got := GenerationDetails([]Generation{g}); len(got) != 1 || got[0] != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestParseJournalReversed: journalctl --reverse gives the newest first;
// the stop timeout still claims the SIGKILL that followed it.
func TestParseJournalReversed(t *testing.T) {
	in := `{"MESSAGE":"apache2.service: Killing process 2001 (apache2) with signal SIGKILL.","__REALTIME_TIMESTAMP":"1796526100000100"}` + "\n" +
		`{"MESSAGE":"apache2.service: State 'stop-sigterm' timed out. Killing.","__REALTIME_TIMESTAMP":"1796526100000000"}`
	got, err := parseJournal(strings.NewReader(in), true)
	if err != nil || len(got) != 2 || got[1].Cause != CauseStopTimeout || got[1].PID != 2001 {
		t.Errorf("deaths %+v, %v", got, err)
	}
}

// TestReadJournalForkingWrapperBounded: a journalctl that hangs, with a
// child holding its output open, costs the check its 3 s and one more,
// never the child's life.
func TestReadJournalForkingWrapperBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the journal's 3 s bound")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "journalctl"), []byte("#!/bin/sh\nsleep 30 &\nsleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":/usr/bin:/bin")
	begin := time.Now()
	deaths, err := ReadJournal(time.Unix(0, 0))
	if took := time.Since(begin); took > 6*time.Second || err == nil || len(deaths) != 0 {
		t.Errorf("took %s, %d deaths, error %v; want an error within 3 s and the wait delay", took, len(deaths), err)
	}
}
