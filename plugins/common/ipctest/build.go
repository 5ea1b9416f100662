package ipctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildBinary builds a main package of this module for end-to-end tests
// and returns its path. The path is handed to re-executed children through
// the environment, so a test running inside Enter's namespaces uses the
// binary its parent built instead of building again. The directory is
// world-readable: tests also run the binary as unprivileged users.
func BuildBinary(pkg, name string) (path string, cleanup func(), err error) {
	env := "IPCWATCH_TEST_BIN_" + strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(name))
	if p := os.Getenv(env); p != "" {
		return p, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "ipcwatch-bin-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if err := os.Chmod(dir, 0o755); err != nil {
		cleanup()
		return "", nil, err
	}
	path = filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", path, "github.com/ipcwatch/ipcwatch/"+strings.TrimPrefix(pkg, "./"))
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("go build %s: %w: %s", pkg, err, out)
	}
	os.Setenv(env, path)
	return path, cleanup, nil
}
