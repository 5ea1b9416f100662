package sysvipc

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// FileOwner is the uid a file belongs to; false where the platform's stat
// gives none.
func FileOwner(st os.FileInfo) (uint32, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return sys.Uid, true
}

// RootOwned reports whether a file surely belongs to root.
func RootOwned(st os.FileInfo) bool {
	uid, ok := FileOwner(st)
	return ok && uid == 0
}

// RootOnlyWritable checks a file or directory as it is (no link
// followed) and every directory above it: each belongs to root and is
// writable by nobody else, except a sticky directory above (/tmp, where
// others cannot rename what is root's) when sticky is true. It is what
// decides what runs, or what is removed, as root; the caller's error
// names the path and what it is.
func RootOnlyWritable(path string, sticky bool) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if err := rootOnly(st, false); err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	for up := filepath.Dir(abs); ; up = filepath.Dir(up) {
		st, err := os.Stat(up)
		if err != nil {
			return err
		}
		if err := rootOnly(st, sticky); err != nil {
			return fmt.Errorf("%s, above it: %w", up, err)
		}
		if up == "/" {
			return nil
		}
	}
}

func rootOnly(st os.FileInfo, sticky bool) error {
	if uid, ok := FileOwner(st); ok && uid != 0 {
		return fmt.Errorf("belongs to uid %d, not root", uid)
	}
	if st.Mode().Perm()&0o022 != 0 && !(sticky && st.IsDir() && st.Mode()&os.ModeSticky != 0) {
		return fmt.Errorf("writable by group or others (mode %04o)", st.Mode().Perm())
	}
	return nil
}
