package sysvipc

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// maxColumns bounds the fields of one /proc/sysvipc row; today's widest
// table (shm) has 16, so 32 leaves room for columns future kernels add.
const maxColumns = 32

// readBufferSize matches what cat uses, so a 32,000-row table is read in a
// few syscalls.
const readBufferSize = 128 << 10

// column binds a header name to the setter that stores its field in a row.
type column[T any] struct {
	name string
	set  func(row *T, field []byte) error
}

// parseTable parses a /proc/sysvipc table by its header: each column is
// found by name, so a kernel that lacks a column (shm without rss/swap) or
// adds one still parses. Columns the caller does not know are ignored;
// required names must be present.
func parseTable[T any](r io.Reader, file string, cols []column[T], required ...string) ([]T, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, readBufferSize), readBufferSize)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrFileParse, file, err)
		}
		return nil, fmt.Errorf("%w: %s: missing header", ErrFileParse, file)
	}
	var fields [maxColumns][]byte
	header := splitFields(sc.Bytes(), &fields)
	setters := make([]*column[T], len(header))
	for i, name := range header {
		for j := range cols {
			if string(name) == cols[j].name {
				setters[i] = &cols[j]
			}
		}
	}
	for _, want := range required {
		if !hasColumn(header, want) {
			return nil, fmt.Errorf("%w: %s: header has no %q column", ErrFileParse, file, want)
		}
	}

	var rows []T
	for line := 2; sc.Scan(); line++ {
		got := splitFields(sc.Bytes(), &fields)
		if len(got) == 0 {
			continue
		}
		if len(got) != len(header) {
			return nil, fmt.Errorf("%w: %s line %d: %d fields, header has %d", ErrFileParse, file, line, len(got), len(header))
		}
		if len(rows) == cap(rows) {
			// Double, not append's 1.25x: at 32,000 rows the copies of
			// a slower growth cost more than the parsing.
			rows = slices.Grow(rows, max(64, len(rows)))
		}
		rows = append(rows, *new(T))
		row := &rows[len(rows)-1]
		for i, f := range got {
			if setters[i] == nil {
				continue
			}
			if err := setters[i].set(row, f); err != nil {
				return nil, fmt.Errorf("%w: %s line %d: invalid %s %q: %w", ErrFileParse, file, line, setters[i].name, f, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFileParse, file, err)
	}
	return rows, nil
}

func hasColumn(header [][]byte, name string) bool {
	for _, h := range header {
		if string(h) == name {
			return true
		}
	}
	return false
}

// splitFields splits on runs of spaces and tabs into the caller's array,
// so a row costs no allocation. A byte loop: bytes.IndexAny and TrimLeft
// cost half the parse time at 32,000 rows.
func splitFields(line []byte, out *[maxColumns][]byte) [][]byte {
	n, i := 0, 0
	for n < maxColumns {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			break
		}
		j := i + 1
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		out[n] = line[i:j]
		n, i = n+1, j
	}
	return out[:n]
}

// The field parsers take the fast path of a plain decimal (what the kernel
// prints) without converting to a string, and fall back to strconv for
// anything else, so errors and edge cases are strconv's own. At 32,000
// rows the fast path halves the parse time.

// fastUint parses an unsigned decimal of at most 19 digits (no overflow
// possible); ok is false for anything else.
func fastUint(b []byte) (v uint64, ok bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

func fastInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	v, ok := fastUint(b)
	if !ok || v > 1<<63-1 {
		return 0, false // strconv decides, and words the error
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

func parseInt32(b []byte) (int32, error) {
	if v, ok := fastInt(b); ok && v >= -1<<31 && v < 1<<31 {
		return int32(v), nil
	}
	v, err := strconv.ParseInt(string(b), 10, 32)
	return int32(v), err
}

func parseUint32(b []byte) (uint32, error) {
	if v, ok := fastUint(b); ok && v < 1<<32 {
		return uint32(v), nil
	}
	v, err := strconv.ParseUint(string(b), 10, 32)
	return uint32(v), err
}

func parseUint64(b []byte) (uint64, error) {
	if v, ok := fastUint(b); ok {
		return v, nil
	}
	return strconv.ParseUint(string(b), 10, 64)
}

func parseInt64(b []byte) (int64, error) {
	if v, ok := fastInt(b); ok {
		return v, nil
	}
	return strconv.ParseInt(string(b), 10, 64)
}

func parseOctal(b []byte) (uint32, error) {
	v, err := strconv.ParseUint(string(b), 8, 32)
	return uint32(v), err
}

// Setter builders: each returns a column setter storing into one field.

func int32Col[T any](name string, get func(*T) *int32) column[T] {
	return column[T]{name, func(r *T, b []byte) (err error) { *get(r), err = parseInt32(b); return }}
}

func uint32Col[T any](name string, get func(*T) *uint32) column[T] {
	return column[T]{name, func(r *T, b []byte) (err error) { *get(r), err = parseUint32(b); return }}
}

func uint64Col[T any](name string, get func(*T) *uint64) column[T] {
	return column[T]{name, func(r *T, b []byte) (err error) { *get(r), err = parseUint64(b); return }}
}

func int64Col[T any](name string, get func(*T) *int64) column[T] {
	return column[T]{name, func(r *T, b []byte) (err error) { *get(r), err = parseInt64(b); return }}
}

func octalCol[T any](name string, get func(*T) *uint32) column[T] {
	return column[T]{name, func(r *T, b []byte) (err error) { *get(r), err = parseOctal(b); return }}
}
