package check

import (
	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"

	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// runCheck runs the built binary with HOST_PROC (empty: the live /proc)
// and returns its stdout and exit code.
func runCheck(t *testing.T, hostProc string, args ...string) (string, int) {
	t.Helper()
	return runCheckAs(t, nil, hostProc, args...)
}

// runCheckAs is runCheck as another user (nil: as the test).
func runCheckAs(t *testing.T, cred *syscall.Credential, hostProc string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(checkBinPath(), args...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	cmd.Env = os.Environ()
	if hostProc != "" {
		cmd.Env = append(cmd.Env, "HOST_PROC="+hostProc)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("check_sysvipc %s -> %d\n%s", strings.Join(args, " "), code, stdout.String())
	if stderr.Len() > 0 {
		t.Errorf("check wrote to stderr: %q", stderr.String())
	}
	return stdout.String(), code
}

func fixture(name string) string {
	return filepath.Join("..", "..", "plugins", "common", "sysvipc", "testdata", name, "proc")
}

// TestGolden runs the binary over fixture trees and compares stdout and
// the exit code with testdata/golden (regenerate with -update).
func TestGolden(t *testing.T) {
	tests := []struct {
		name, fixture string
		args          []string
	}{
		{"idle", "idle", nil},
		{"idle_verbose", "idle", []string{"-v"}},
		{"objects", "objects", []string{"-v"}},
		{"leaked_ok", "leaked", nil},
		{"leaked_warning", "leaked", []string{"-w", "5", "-c", "10"}},
		{"leaked_critical_percent", "leaked", []string{"-w", "5%", "-c", "7%"}},
		{"leaked_inside", "leaked", []string{"-w", "@5:10", "-c", "@9:9"}},
		{"leaked_semaphores_critical", "leaked", []string{"--sems-warning", "1", "--sems-critical", "8"}},
		{"leaked_stale_fixture", "leaked", []string{"--stale-warning", "0", "-vv"}},
		{"objects_queues_warning", "objects", []string{"--queues-warning", "1", "--shm-critical", "~:2"}},
		{"missing_sysvipc", "nonexistent", nil},
		{"missing_kernel_sem", "nokernelsem", nil},
		{"bad_range", "idle", []string{"-c", "20:10"}},
		{"unknown_option", "idle", []string{"--frobnicate"}},
		{"version", "idle", []string{"-V"}},
		{"help", "idle", []string{"--help"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fixture(tt.fixture)
			switch tt.fixture {
			case "nonexistent":
				root = t.TempDir()
			case "nokernelsem":
				root = t.TempDir()
				if err := os.MkdirAll(filepath.Join(root, "sysvipc"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// In process, on the fixture: the logic and its output, with
			// the version the source says (make build stamps the binary's).
			var buf bytes.Buffer
			code := RunWith(func() (sysvipc.FS, error) { return sysvipc.NewFS(root) }, tt.args, &buf)
			out := buf.String()
			got := fmt.Sprintf("%s\nexit: %d\n", strings.ReplaceAll(out, root, "$HOST_PROC"), code)
			path := filepath.Join("testdata", "golden", tt.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
}
