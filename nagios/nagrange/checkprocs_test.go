package nagrange

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// checkProcsPath is where Debian's monitoring-plugins-basic installs it.
const checkProcsPath = "/usr/lib/nagios/plugins/check_procs"

// checkProcsCount matches the process count in check_procs output, e.g.
// "PROCS OK: 3 processes with PPID = 42, command name 'sleep' | ...".
var checkProcsCount = regexp.MustCompile(`^PROCS [A-Z]+: (\d+) process`)

// TestCheckProcsAgreement runs the real C check_procs, which uses
// parse_range_string and get_status, against a known number of `sleep`
// children of this test process, and asserts that its exit code equals what
// Parse and Alert predict (critical before warning, 3 when a range does not
// parse).
func TestCheckProcsAgreement(t *testing.T) {
	if _, err := os.Stat(checkProcsPath); err != nil {
		// Under CI a missing plugin must fail loudly, not hide as a skip.
		if os.Getenv("CI") == "true" {
			t.Fatalf("check_procs not available: %v", err)
		}
		t.Skipf("check_procs not available (install monitoring-plugins-basic): %v", err)
	}
	sleepPath, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("sleep not found: %v", err)
	}

	pairs := []struct{ warn, crit string }{
		{"0", "0"},
		{"2", "3"},
		{"1:", "0:"},
		{"2:", "1:"},
		{"~:1", "~:3"},
		{"~:0", "~:2"},
		{"1:3", "0:4"},
		{"2:2", "1:3"},
		{"@2:2", "@3:4"},
		{"@0", "@4:"},
		{"@1", "@~:0"},
		{"@~:1", "~:"},
		{"@~:", "~:"},
		{"~:", "@2:3"},
		{":2", ":3"},
		{"2.5", "3.5"},
		{"1e0:3", "4"},
		{"+1:+3", "-1:4"},
		// C ignores '%', which is what resolving against 100 does.
		{"2%", "3%"},
		{"1%:", "@3%:4%"},
		// Rejected by both: UNKNOWN from check_procs, an error here.
		{"2:1", "5"},
		{"3", "@4:3"},
		{"-1", "5"},
		{"3", "nan"},
	}

	var kids []*exec.Cmd
	t.Cleanup(func() {
		for _, c := range kids {
			_ = c.Process.Kill()
			_ = c.Wait() // reap, so no zombie outlives the test
		}
	})

	pid := strconv.Itoa(os.Getpid())
	for _, n := range []int{0, 1, 2, 3, 4, 5} {
		// Start returns only after exec succeeded, so the children already
		// show up as "sleep" when check_procs runs ps.
		for len(kids) < n {
			c := exec.Command(sleepPath, "60")
			if err := c.Start(); err != nil {
				t.Fatalf("start sleep: %v", err)
			}
			kids = append(kids, c)
		}
		for _, p := range pairs {
			t.Run(fmt.Sprintf("%d_procs/w=%s,c=%s", n, p.warn, p.crit), func(t *testing.T) {
				want, parseErr := predictStatus(p.warn, p.crit, float64(n))

				cmd := exec.CommandContext(t.Context(), checkProcsPath,
					"--ppid="+pid, "-C", "sleep", "-w", p.warn, "-c", p.crit)
				out, err := cmd.Output()
				got := 0
				var exitErr *exec.ExitError
				switch {
				case errors.As(err, &exitErr):
					got = exitErr.ExitCode()
				case err != nil:
					t.Fatalf("run check_procs: %v", err)
				}

				if got != stateUnknown {
					m := checkProcsCount.FindSubmatch(out)
					if m == nil {
						t.Fatalf("unexpected check_procs output %q", out)
					}
					if c, _ := strconv.Atoi(string(m[1])); c != n {
						t.Fatalf("check_procs counted %d processes, want %d: %q", c, n, out)
					}
				}
				if got != want {
					t.Errorf("check_procs exit %d, nagrange predicts %d (parse error: %v); output %q",
						got, want, parseErr, out)
				}
			})
		}
	}
}

// predictStatus is get_status for the value v with the given warning and
// critical ranges, or stateUnknown when either range does not parse.
func predictStatus(warn, crit string, v float64) (int, error) {
	w, err := Parse(warn)
	if err != nil {
		return stateUnknown, err
	}
	c, err := Parse(crit)
	if err != nil {
		return stateUnknown, err
	}
	return status(w.Resolve(100), c.Resolve(100), v), nil
}
