package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

// The hooks' witness records live in a root-only directory on /run: a
// tmpfs, empty after a reboot, which is also when every array is gone.
// The host stores and hands back what the plugin encodes; it checks only
// that nobody but root could have written it, because a record is what
// lets the plugin remove an array while other servers run.

// errState marks a state directory or record that cannot be trusted.
var errState = errors.New("witness state")

// maxRecordSize bounds one record (32,000 arrays take about 2 MB).
const maxRecordSize = 64 << 20

// unitName is what systemd's %n expands to: letters, digits and ":-_.\@",
// at most 255 bytes (systemd's UNIT_NAME_MAX), the type suffix included.
var unitName = regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]{1,255}$`)

func validUnit(u string) error {
	if !unitName.MatchString(u) || strings.HasPrefix(u, ".") || !strings.Contains(u, ".") {
		return fmt.Errorf("%w: --unit: %q is not a systemd unit name (as %%n gives it, like apache2.service)", errUsage, u)
	}
	return nil
}

// trustedDir creates dir (0700) if missing and create is set, and checks
// that it is a directory of root's that only root may write.
func trustedDir(dir string, create bool) error {
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("%w: %w", errState, err)
		}
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", errState, err)
	}
	switch {
	case !st.IsDir():
		return fmt.Errorf("%w: %s is not a directory", errState, dir)
	case !rootOwned(st):
		return fmt.Errorf("%w: %s does not belong to root", errState, dir)
	case st.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%w: %s is writable by group or others (mode %04o)", errState, dir, st.Mode().Perm())
	}
	// Nor may anyone else swap the directory for theirs: every directory
	// above it is root's, and writable by others only when sticky (/tmp),
	// where they cannot rename what is root's.
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", errState, err)
	}
	for up := filepath.Dir(abs); ; up = filepath.Dir(up) {
		st, err := os.Stat(up)
		if err != nil {
			return fmt.Errorf("%w: %w", errState, err)
		}
		switch {
		case !rootOwned(st):
			return fmt.Errorf("%w: %s, above %s, does not belong to root", errState, up, dir)
		case st.Mode().Perm()&0o022 != 0 && st.Mode()&os.ModeSticky == 0:
			return fmt.Errorf("%w: %s, above %s, is writable by group or others (mode %04o)", errState, up, dir, st.Mode().Perm())
		}
		if up == "/" {
			return nil
		}
	}
}

// readRecords reads every unit's record from dir. A record root did not
// write alone (another owner, a group- or world-writable mode, not a
// regular file) is left out and named in problems: the plugin then judges
// by the normal rules, which never need it. Only the hooks create dir; the
// event handler reads it if it is there.
func readRecords(dir string, create bool) (records map[string][]byte, problems []string, err error) {
	if !create {
		if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil
		}
	}
	if err := trustedDir(dir, create); err != nil {
		return nil, nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errState, err)
	}
	records = map[string][]byte{}
	for _, path := range names {
		unit := strings.TrimSuffix(filepath.Base(path), ".json")
		b, err := readRecord(path, unit)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		records[unit] = b
	}
	return records, problems, nil
}

func readRecord(path, unit string) ([]byte, error) {
	if validUnit(unit) != nil {
		return nil, fmt.Errorf("%w: %s: not named after a unit", errState, path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errState, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errState, err)
	}
	switch {
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%w: %s is not a regular file", errState, path)
	case !rootOwned(st):
		return nil, fmt.Errorf("%w: %s does not belong to root", errState, path)
	case st.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("%w: %s is readable or writable by others (mode %04o)", errState, path, st.Mode().Perm())
	case st.Size() > maxRecordSize:
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", errState, path, maxRecordSize)
	}
	return io.ReadAll(io.LimitReader(f, maxRecordSize))
}

// writeRecord replaces unit's record atomically (a new 0600 file renamed
// over the old): a hook killed halfway leaves the old record or the new.
func writeRecord(dir, unit string, b []byte) error {
	f, err := os.CreateTemp(dir, "."+unit+".*")
	if err != nil {
		return fmt.Errorf("%w: %w", errState, err)
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("%w: %s: %w", errState, f.Name(), err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, unit+".json")); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("%w: %w", errState, err)
	}
	return nil
}
