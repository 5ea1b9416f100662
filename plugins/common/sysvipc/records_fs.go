package sysvipc

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

// DefaultStateDir is where the unit hooks keep their records: a tmpfs,
// empty after a reboot, which is also when every array is gone.
const DefaultStateDir = "/run/ipcwatch/units"

// ErrState marks a state directory or record that cannot be trusted.
var ErrState = errors.New("witness state")

// ErrRecordsUnreadable marks records that exist and that this reader may
// not read (a state directory of mode 0700, a record of 0600): what root
// judges by them, this reader cannot (Policy.RecordsUnreadable).
var ErrRecordsUnreadable = errors.New("unit records unreadable")

// maxRecordSize bounds one record (32,000 arrays take about 2 MB).
const maxRecordSize = 64 << 20

// unitName is what systemd's %n expands to: letters, digits and ":-_.\@",
// at most 255 bytes (systemd's UNIT_NAME_MAX), the type suffix included.
var unitName = regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]{1,255}$`)

// ValidUnit reports whether u is a unit name as systemd's %n gives it.
func ValidUnit(u string) bool {
	return unitName.MatchString(u) && !strings.HasPrefix(u, ".") && strings.Contains(u, ".")
}

// TrustedStateDir checks that dir is a directory of root's that only
// root may write, and that nobody else can swap it for theirs: every
// directory above it is root's, and writable by others only when sticky.
func TrustedStateDir(dir string) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrState, dir)
	}
	if err := RootOnlyWritable(dir, true); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrState, dir, err)
	}
	return nil
}

// ReadUnitRecords reads every unit's record from dir, for any reader: a
// record proves something because only root could have written it. A
// record root did not write alone (another owner, a group- or
// world-writable mode, not a regular file) is left out and named in
// problems: the rules that need no record then decide, as they do for
// root. Records this reader may not read are an error wrapping
// ErrRecordsUnreadable, returned with the records it could read. A
// missing dir is no records (the drop-in is not in use).
func ReadUnitRecords(dir string) (records map[string][]byte, problems []string, err error) {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err := TrustedStateDir(dir); err != nil {
		// A directory above it this reader may not search (a parent
		// made 0700): the records may be there, as root sees them.
		if errors.Is(err, os.ErrPermission) {
			return nil, nil, fmt.Errorf("%w: %s: %w", ErrRecordsUnreadable, dir, err)
		}
		return nil, nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrPermission) {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrRecordsUnreadable, dir, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	records = map[string][]byte{}
	unreadable := 0
	for _, e := range entries {
		unit, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := readUnitRecord(path, unit)
		switch {
		case errors.Is(err, os.ErrPermission):
			unreadable++
			continue
		case err != nil:
			problems = append(problems, err.Error())
			continue
		}
		records[unit] = b
	}
	if unreadable > 0 {
		return records, problems, fmt.Errorf("%w: %d in %s: permission denied", ErrRecordsUnreadable, unreadable, dir)
	}
	return records, problems, nil
}

func readUnitRecord(path, unit string) ([]byte, error) {
	if !ValidUnit(unit) {
		return nil, fmt.Errorf("%w: %s: not named after a unit", ErrState, path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	switch {
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrState, path)
	case !RootOwned(st):
		return nil, fmt.Errorf("%w: %s does not belong to root", ErrState, path)
	case st.Mode().Perm()&0o022 != 0:
		return nil, fmt.Errorf("%w: %s is writable by group or others (mode %04o)", ErrState, path, st.Mode().Perm())
	case st.Size() > maxRecordSize:
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrState, path, maxRecordSize)
	}
	return io.ReadAll(io.LimitReader(f, maxRecordSize))
}
