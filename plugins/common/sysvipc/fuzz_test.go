package sysvipc

import (
	"bytes"
	"testing"
	"time"
)

// The fuzz targets assert that no input panics a parser and that what a
// parser accepts has one row per non-empty line after the header. Seeds
// are the fixtures plus the committed corpus under testdata/fuzz.

func FuzzParseSem(f *testing.F) {
	addFixture(f, "objects/proc/sysvipc/sem")
	f.Fuzz(func(t *testing.T, in []byte) {
		rows, err := parseSem(bytes.NewReader(in), "f")
		checkRows(t, in, len(rows), err)
	})
}

func FuzzParseShm(f *testing.F) {
	addFixture(f, "objects/proc/sysvipc/shm")
	addFixture(f, "oldshm/proc/sysvipc/shm")
	f.Fuzz(func(t *testing.T, in []byte) {
		rows, err := parseShm(bytes.NewReader(in), "f")
		checkRows(t, in, len(rows), err)
	})
}

func FuzzParseMsg(f *testing.F) {
	addFixture(f, "objects/proc/sysvipc/msg")
	f.Fuzz(func(t *testing.T, in []byte) {
		rows, err := parseMsg(bytes.NewReader(in), "f")
		checkRows(t, in, len(rows), err)
	})
}

func FuzzParseKernelSem(f *testing.F) {
	addFixture(f, "objects/proc/sys/kernel/sem")
	f.Fuzz(func(t *testing.T, in []byte) {
		msl, mns, opm, mni, err := parseKernelSem(bytes.NewReader(in), "f")
		if err != nil && msl+mns+opm+mni != 0 {
			t.Errorf("error %v with values %d %d %d %d", err, msl, mns, opm, mni)
		}
	})
}

func addFixture(f *testing.F, name string) {
	b, err := readFixture(name)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

func checkRows(t *testing.T, in []byte, rows int, err error) {
	if err != nil {
		if rows != 0 {
			t.Errorf("error %v with %d rows", err, rows)
		}
		return
	}
	lines := 0
	var fields [maxColumns][]byte
	for i, line := range bytes.Split(in, []byte("\n")) {
		// bufio.ScanLines drops one carriage return before the newline.
		line = bytes.TrimSuffix(line, []byte("\r"))
		if i > 0 && len(splitFields(line, &fields)) > 0 {
			lines++
		}
	}
	// Lines longer than the scanner's buffer fail the parse instead.
	if len(in) < readBufferSize && rows != lines {
		t.Errorf("%d rows from %d data lines", rows, lines)
	}
}

// FuzzParseKernelLog: any bytes as /dev/kmsg records, or a saved log.
// No panic; a record parsed keeps a message no longer than its input and
// a death read from it names a positive pid and quotes at most 200 bytes.
func FuzzParseKernelLog(f *testing.F) {
	addFixture(f, "kmsg/linux-6.x")
	addFixture(f, "kmsg/linux-5.x")
	f.Add([]byte("3,1,2,-;Out of memory: Killed process 1 (x)"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if rec, err := parseKernelRecord(in); err == nil && len(rec.Message) > len(in) {
			t.Fatalf("message %q longer than the record", rec.Message)
		}
		log, err := parseKernelLog(bytes.NewReader(in), "f")
		if err != nil {
			return
		}
		for _, d := range KernelDeaths(log, time.Unix(0, 0)) {
			if d.PID <= 0 || len(d.Line) > maxLogLine {
				t.Fatalf("death %+v from %q", d, in)
			}
		}
	})
}
