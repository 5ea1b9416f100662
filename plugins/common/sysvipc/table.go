package sysvipc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
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
// so a row costs no allocation.
func splitFields(line []byte, out *[maxColumns][]byte) [][]byte {
	n := 0
	for len(line) > 0 && n < maxColumns {
		line = bytes.TrimLeft(line, " \t")
		if len(line) == 0 {
			break
		}
		end := bytes.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		out[n] = line[:end]
		n++
		line = line[end:]
	}
	return out[:n]
}

// The field parsers convert with string(b): the compiler keeps such a
// short, non-escaping conversion on the stack, so parsing stays
// allocation-free (BenchmarkParseSem reports it).

func parseInt32(b []byte) (int32, error) {
	v, err := strconv.ParseInt(string(b), 10, 32)
	return int32(v), err
}

func parseUint32(b []byte) (uint32, error) {
	v, err := strconv.ParseUint(string(b), 10, 32)
	return uint32(v), err
}

func parseUint64(b []byte) (uint64, error) {
	return strconv.ParseUint(string(b), 10, 64)
}

func parseInt64(b []byte) (int64, error) {
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
