package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// binDir holds the built host, plugin and SHA256SUMS, laid out as make
// build lays out bin/.
var binDir string

const envBinDir = "IPCWATCH_TEST_REMEDIATE_BIN"

func TestMain(m *testing.M) {
	ipctest.HelperMain()
	binDir = os.Getenv(envBinDir)
	owned := false
	if binDir == "" {
		var err error
		if binDir, err = buildAll(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Setenv(envBinDir, binDir)
		owned = true
	}
	code := m.Run()
	if owned {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func buildAll() (string, error) {
	dir, err := os.MkdirTemp("", "ipcwatch-remediate-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	for name, pkg := range map[string]string{
		"ipcwatch-remediate":     "./",
		"ipcwatch-plugin-apache": "../../plugins/remediate/apache",
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %w: %s", pkg, err, out)
		}
	}
	sum, err := fileSHA256(filepath.Join(dir, "ipcwatch-plugin-apache"))
	if err != nil {
		return "", err
	}
	manifest := fmt.Sprintf("%x  ipcwatch-plugin-apache\n", sum)
	return dir, os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(manifest), 0o644)
}
