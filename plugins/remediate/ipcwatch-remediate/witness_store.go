package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// The hooks' witness records live in a directory on /run: a tmpfs, empty
// after a reboot, which is also when every array is gone. The host
// stores and hands back what the plugin encodes. Only root writes there;
// everyone may read (0755, records 0644), so that the check and the
// Telegraf input judge by the same records the handler does. A record
// proves something because nobody but root could have written it
// (sysvipc.ReadUnitRecords checks that), not because nobody can read it.

// errState marks a state directory or record that cannot be trusted.
var errState = sysvipc.ErrState

func validUnit(u string) error {
	if !sysvipc.ValidUnit(u) {
		return fmt.Errorf("%w: --unit: %q is not a systemd unit name (as %%n gives it, like apache2.service)", errUsage, u)
	}
	return nil
}

// stateDirMode is the state directory's mode: root writes, all read.
const stateDirMode = 0o755

// readRecords reads every unit's record from dir; with create (the
// hooks, as root) it makes dir first, or opens up one an older version
// made root-only.
func readRecords(dir string, create bool) (records map[string][]byte, problems []string, err error) {
	if create {
		if err := makeStateDir(dir); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", errState, err)
		}
		if st, err := os.Lstat(dir); err == nil && st.IsDir() && sysvipc.RootOwned(st) && st.Mode().Perm() != stateDirMode {
			if err := os.Chmod(dir, stateDirMode); err != nil {
				return nil, nil, fmt.Errorf("%w: %w", errState, err)
			}
		}
	}
	return sysvipc.ReadUnitRecords(dir)
}

// makeStateDir makes dir and each missing directory above it with
// stateDirMode whatever the unit's umask (UMask=0077 would make them
// 0700, and the monitoring users could not reach the records).
func makeStateDir(dir string) error {
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := makeStateDir(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, stateDirMode); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return os.Chmod(dir, stateDirMode)
}

// writeRecord replaces unit's record atomically (a new 0644 file renamed
// over the old): a hook killed halfway leaves the old record or the new.
func writeRecord(dir, unit string, b []byte) error {
	f, err := os.CreateTemp(dir, "."+unit+".*")
	if err != nil {
		return fmt.Errorf("%w: %w", errState, err)
	}
	_, werr := f.Write(b)
	merr := f.Chmod(0o644)
	cerr := f.Close()
	if err := errors.Join(werr, merr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("%w: %s: %w", errState, f.Name(), err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, unit+".json")); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("%w: %w", errState, err)
	}
	return nil
}
