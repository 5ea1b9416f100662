package ipctest

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// binaries are the module's programs by the names make build gives them.
var binaries = map[string]string{
	"check_sysvipc":          "nagios/check_sysvipc",
	"ipcwatch-telegraf":      "shim",
	"ipcwatch-remediate":     "plugins/remediate/ipcwatch-remediate",
	"ipcwatch-plugin-apache": "plugins/remediate/ipcwatch-plugin-apache",
}

// envBin hands the built directory to re-executed children.
const envBin = "IPCWATCH_TEST_BIN"

// BuildBin builds every program of the module into one directory laid out
// like make build's bin/ (static binaries and the SHA256SUMS manifest the
// remediation host trusts plugins by) and returns it. The directory is
// world-readable, since tests also run the programs as other users. A test
// running inside Enter's namespaces gets its parent's directory through
// the environment instead of building again; cleanup then does nothing.
func BuildBin() (dir string, cleanup func(), err error) {
	if d := os.Getenv(envBin); d != "" {
		return d, func() {}, nil
	}
	dir, err = os.MkdirTemp("", "ipcwatch-bin-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if err := build(dir); err != nil {
		cleanup()
		return "", nil, err
	}
	os.Setenv(envBin, dir)
	return dir, cleanup, nil
}

func build(dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	var sums strings.Builder
	for name, pkg := range binaries {
		path := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", path, "github.com/ipcwatch/ipcwatch/"+pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w: %s", pkg, err, out)
		}
		sum, err := fileSHA256(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(&sums, "%x  %s\n", sum, name)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums.String()), 0o644)
}

// Main is the TestMain of packages whose tests run the built programs: it
// serves helper processes (HelperMain), builds bin/ once (BuildBin),
// stores its path in *bin, runs the tests and exits.
func Main(m interface{ Run() int }, bin *string) {
	HelperMain()
	dir, cleanup, err := BuildBin()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	*bin = dir
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// fileSHA256 is the manifest's sum of one binary, as sha256sum writes it.
// Test support imports no product package: a test of the core must not
// depend on the remediation boundary it checks.
func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
