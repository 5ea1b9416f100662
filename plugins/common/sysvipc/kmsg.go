package sysvipc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultKernelLog is the kernel's log device: one record per read, from
// the oldest the ring buffer still holds. Reading it needs CAP_SYSLOG
// where kernel.dmesg_restrict is 1 (Debian's default).
const DefaultKernelLog = "/dev/kmsg"

// ErrKernelLogUnreadable means the kernel log could not be read: the
// cause of a leak is then unknown, never guessed.
var ErrKernelLogUnreadable = errors.New("kernel log unreadable")

// maxKernelLog bounds what is read when the ring buffer's size cannot be
// asked (syslog(SIZE_BUFFER)): the kernel's largest log_buf_len is 32 MiB.
const maxKernelLog = 32 << 20

// KernelRecord is one record of /dev/kmsg: "prio,seq,usec,flags;message",
// then continuation lines (" KEY=value") that are not kept.
type KernelRecord struct {
	// Priority is the syslog facility times 8 plus the level: facility 0
	// is the kernel's own; what a process writes to /dev/kmsg is never 0.
	Priority int
	Seq      uint64
	Since    time.Duration // after boot, the kernel's printk clock
	Message  string
}

// KernelLog is what the ring buffer held when read.
type KernelLog struct {
	Records []KernelRecord
	// Dropped counts records overwritten while they were read (EPIPE).
	Dropped int
}

// textPerRingByte is how much longer /dev/kmsg's text is than the ring
// buffer's records: every record gains its "prio,seq,usec,flags;" prefix
// and its dictionary lines, non-printing bytes become \xNN. Four times the
// ring holds the whole ring.
const textPerRingByte = 4

// ReadKernelLog reads the ring buffer from its oldest record to its
// newest, without waiting for more, keeping at most four times the
// buffer's size in text (the whole ring: the newest records are kept,
// and they are the ones a recent death left). A kernel that logs without
// pause stops the reading after sixteen times that.
func ReadKernelLog(path string) (KernelLog, error) {
	// The raw descriptor, not an *os.File: Go's poller would wait for a
	// record at the end of the buffer instead of returning EAGAIN.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return KernelLog{}, fmt.Errorf("%w: %w", ErrKernelLogUnreadable, &os.PathError{Op: "open", Path: path, Err: err})
	}
	keep := int64(textPerRingByte * kernelRingSize())
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
		// A saved log (a fixture, or a copy): the same records, one a
		// line; its last part when it is longer.
		f := os.NewFile(uintptr(fd), path)
		defer f.Close()
		from := max(0, st.Size-keep)
		b, err := io.ReadAll(io.NewSectionReader(f, from, st.Size-from))
		if err != nil {
			return KernelLog{}, fmt.Errorf("%w: %s: %w", ErrKernelLogUnreadable, path, err)
		}
		if from > 0 {
			_, b, _ = bytes.Cut(b, []byte("\n")) // a record cut by the start
		}
		return parseKernelLog(bytes.NewReader(b), path)
	}
	defer unix.Close(fd)
	var (
		log   KernelLog
		sizes []int
		kept  int64
		read  int64
		buf   = make([]byte, 8192) // a record is at most 1 KiB of text, escaped
	)
	for read < 4*keep {
		n, err := unix.Read(fd, buf)
		switch {
		case errors.Is(err, syscall.EAGAIN) || (err == nil && n == 0):
			return log, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EPIPE):
			log.Dropped++ // overwritten before we got to it
			continue
		case err != nil:
			return KernelLog{}, fmt.Errorf("%w: %s: %w", ErrKernelLogUnreadable, path, err)
		}
		read += int64(n)
		rec, perr := parseKernelRecord(buf[:n])
		if perr != nil {
			return KernelLog{}, fmt.Errorf("%w: %s: %w", ErrFileParse, path, perr)
		}
		log.Records, sizes, kept = append(log.Records, rec), append(sizes, n), kept+int64(n)
		for kept > keep {
			kept -= int64(sizes[0])
			log.Records, sizes = log.Records[1:], sizes[1:]
		}
	}
	return log, nil
}

// kernelRingSize is the ring buffer's size, or 32 MiB when the kernel
// does not say.
func kernelRingSize() int {
	if n, err := unix.Klogctl(unix.SYSLOG_ACTION_SIZE_BUFFER, nil); err == nil && n > 0 && n < maxKernelLog {
		return n
	}
	return maxKernelLog
}

// parseKernelLog parses records written one after another, as a file
// keeps them: a record's first line, then its continuation lines, which
// start with a space.
func parseKernelLog(r io.Reader, file string) (KernelLog, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return KernelLog{}, fmt.Errorf("could not read %s: %w", file, err)
	}
	var log KernelLog
	for n, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 || line[0] == ' ' {
			continue
		}
		rec, err := parseKernelRecord(line)
		if err != nil {
			return KernelLog{}, fmt.Errorf("%w: %s: line %d: %w", ErrFileParse, file, n+1, err)
		}
		log.Records = append(log.Records, rec)
	}
	return log, nil
}

// parseKernelRecord parses one record's first line: "prio,seq,usec,flags
// [,more];message". The message keeps the kernel's escapes (\xNN) as
// they are.
func parseKernelRecord(b []byte) (KernelRecord, error) {
	b, _, _ = bytes.Cut(b, []byte("\n"))
	head, msg, ok := bytes.Cut(b, []byte(";"))
	if !ok {
		return KernelRecord{}, fmt.Errorf("no ';' after the record's prefix %q", truncate(b, 40))
	}
	f := bytes.SplitN(head, []byte(","), 5)
	if len(f) < 4 {
		return KernelRecord{}, fmt.Errorf("prefix %q: want prio,seq,usec,flags", truncate(head, 40))
	}
	prio, err := strconv.ParseUint(string(f[0]), 10, 16)
	if err != nil {
		return KernelRecord{}, fmt.Errorf("invalid priority %q", truncate(f[0], 20))
	}
	seq, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return KernelRecord{}, fmt.Errorf("invalid sequence number %q", truncate(f[1], 20))
	}
	usec, err := strconv.ParseInt(string(f[2]), 10, 64)
	if err != nil || usec < 0 || usec > int64(1<<63-1)/int64(time.Microsecond) {
		return KernelRecord{}, fmt.Errorf("invalid timestamp %q", truncate(f[2], 24))
	}
	return KernelRecord{Priority: int(prio), Seq: seq, Since: time.Duration(usec) * time.Microsecond, Message: string(msg)}, nil
}

// truncate cuts b for an error message.
func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
