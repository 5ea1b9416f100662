package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
	"github.com/ipcwatch/ipcwatch/plugins/remediate"
)

// errUntrusted refuses a plugin before it is started.
var errUntrusted = errors.New("untrusted plugin")

// trustPlugin checks a plugin file before it runs as root: it must not be
// writable by group or others, must belong to root or to the invoking
// user, and its sha256 must be listed in the manifest. It returns the
// checksum for go-plugin's SecureConfig, which checks it once more when
// it starts the binary.
func trustPlugin(path, manifest string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errUntrusted, path, err)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%w: %s is writable by group or others (mode %04o)", errUntrusted, path, st.Mode().Perm())
	}
	if uid, ok := sysvipc.FileOwner(st); ok && uid != 0 && int(uid) != os.Getuid() {
		return nil, fmt.Errorf("%w: %s belongs to uid %d, not root or the invoking user", errUntrusted, path, uid)
	}
	sums, err := readManifest(manifest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUntrusted, err)
	}
	want, listed := sums[filepath.Base(path)]
	if !listed {
		return nil, fmt.Errorf("%w: %s is not listed in %s", errUntrusted, filepath.Base(path), manifest)
	}
	got, err := remediate.FileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errUntrusted, path, err)
	}
	if !bytes.Equal(got, want) {
		return nil, fmt.Errorf("%w: %s has sha256 %x, %s lists %x", errUntrusted, path, got, manifest, want)
	}
	return got, nil
}

// readManifest reads sha256sum's output format: "HEX  NAME" per line.
func readManifest(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("plugin manifest: %w", err)
	}
	defer f.Close()
	sums := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("plugin manifest %s line %d: want \"SHA256  NAME\"", path, line)
		}
		sum, err := hex.DecodeString(fields[0])
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("plugin manifest %s line %d: invalid sha256 %q", path, line, fields[0])
		}
		sums[filepath.Base(strings.TrimPrefix(fields[1], "*"))] = sum
	}
	return sums, sc.Err()
}
