package check

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// TestBadInput: every bad command line ends UNKNOWN (3) with one line that
// names the flag, as monitoring-plugins checks do.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown long option", []string{"--nope"}, "SYSVIPC UNKNOWN - unknown option -nope (see check_sysvipc --help)"},
		{"unknown short option", []string{"-x"}, "SYSVIPC UNKNOWN - unknown option -x (see check_sysvipc --help)"},
		{"missing value", []string{"-w"}, "SYSVIPC UNKNOWN - flag needs an argument: -w (see check_sysvipc --help)"},
		{"bundled verbose then junk", []string{"-vvx"}, "SYSVIPC UNKNOWN - unknown option -vvx (see check_sysvipc --help)"},
		{"stray argument", []string{"extra"}, `SYSVIPC UNKNOWN - unexpected argument "extra" (see check_sysvipc --help)`},
		{"warning not a number", []string{"-w", "lots"}, `SYSVIPC UNKNOWN - --warning: Range format incorrect: "lots": end "lots" is not a number (see check_sysvipc --help)`},
		{"critical reversed", []string{"-c", "9:3"}, `SYSVIPC UNKNOWN - --critical: Range format incorrect: "9:3": start 9 is greater than end 3 (see check_sysvipc --help)`},
		{"sems range", []string{"--sems-warning", "1:2:3"}, `SYSVIPC UNKNOWN - --sems-warning: Range format incorrect: "1:2:3": more than one ':' (see check_sysvipc --help)`},
		{"shm range", []string{"--shm-critical", "@"}, `SYSVIPC UNKNOWN - --shm-critical: Range format incorrect: "@": nothing after '@' (see check_sysvipc --help)`},
		{"queues range", []string{"--queues-warning", ""}, ""},
		{"stale percent", []string{"--stale-critical", "10%"}, "SYSVIPC UNKNOWN - --stale-warning/--stale-critical: stale arrays have no kernel limit, so % has no meaning (see check_sysvipc --help)"},
		{"no apache user", []string{"--apache-user", " , "}, "SYSVIPC UNKNOWN - --apache-user: no user given (see check_sysvipc --help)"},
		{"negative min age", []string{"--min-age", "-1m"}, "SYSVIPC UNKNOWN - --min-age: -1m0s is negative (see check_sysvipc --help)"},
		{"bad min age", []string{"--min-age", "soon"}, `SYSVIPC UNKNOWN - invalid value "soon" for flag -min-age: time: invalid duration "soon" (see check_sysvipc --help)`},
		{"zero timeout", []string{"-t", "0"}, "SYSVIPC UNKNOWN - --timeout: 0 is not a positive number of seconds (see check_sysvipc --help)"},
		{"timeout state", []string{"--timeout-state", "MAYBE"}, `SYSVIPC UNKNOWN - --timeout-state: "MAYBE" is not OK, WARNING, CRITICAL or UNKNOWN (see check_sysvipc --help)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := Run(tt.args, &out)
			if tt.want == "" { // an empty range is no range: the check runs
				if code == 3 {
					t.Errorf("exit 3 for %v: %s", tt.args, out.String())
				}
				return
			}
			if code != 3 {
				t.Errorf("exit %d, want 3", code)
			}
			if got := strings.TrimSuffix(out.String(), "\n"); got != tt.want {
				t.Errorf("output\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestUnknownApacheUser(t *testing.T) {
	var out bytes.Buffer
	code := Run([]string{"--apache-user", "no-such-user-here", "--stale-warning", "0"}, &out)
	want := `SYSVIPC UNKNOWN - --apache-user: unknown user: "no-such-user-here": user: unknown user no-such-user-here (see check_sysvipc --help)` + "\n"
	if code != 3 || out.String() != want {
		t.Errorf("exit %d, output %q; want 3, %q", code, out.String(), want)
	}
}

// TestTimeout makes the check hang for real: its kernel.sem is a FIFO
// nobody writes, so open blocks until -t fires.
func TestTimeout(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"sysvipc", "sys/kernel"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "sys/kernel/sem"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"-t", "1"}, "SYSVIPC UNKNOWN - plugin timed out after 1 seconds\n", 3},
		{[]string{"-t", "1", "--timeout-state", "critical"}, "SYSVIPC CRITICAL - plugin timed out after 1 seconds\n", 2},
		{[]string{"-t", "1", "--timeout-state", "1"}, "SYSVIPC WARNING - plugin timed out after 1 seconds\n", 1},
	} {
		start := time.Now()
		out, code := runCheck(t, root, tt.args...)
		if out != tt.want || code != tt.code {
			t.Errorf("%v: exit %d, %q; want %d, %q", tt.args, code, out, tt.code, tt.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v: took %s", tt.args, d)
		}
	}
}

func TestPipeNeverInText(t *testing.T) {
	if got := line(3, "a|b\nc"); got != "SYSVIPC UNKNOWN - a/b c\n" {
		t.Errorf("line() = %q", got)
	}
}

// TestPolicyFileJudges: root's policy file sets the handler's minimum age
// and Apache users; where no flag chooses them, the check judges by the
// file's too, so its stale count is what the handler removes (a check
// counting arrays stale that the handler keeps for a longer minimum age
// would stay CRITICAL for ever). A flag given wins, as for the handler;
// a bad value is named with the file and the key.
func TestPolicyFileJudges(t *testing.T) {
	ipctest.Require(t, os.Geteuid() == 0, "the policy file must be root's; make test runs as root")
	dir := ipctest.WorldReadableDir(t, "ipcwatch-policy-")
	conf := filepath.Join(dir, "remediate.conf")
	write := func(body string) {
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("min_age = \"1h\"\napache_users = [\"nobody\"]\n")
	o, err := parseArgs([]string{"--stale-warning", "0", "--policy", conf})
	if err != nil {
		t.Fatal(err)
	}
	if o.policy.MinAge != time.Hour || len(o.policy.ApacheUIDs) != 1 || !o.policy.ApacheUIDs[65534] {
		t.Errorf("without flags: min age %s, users %v; want the file's 1h and nobody", o.policy.MinAge, o.policy.ApacheUIDs)
	}
	o, err = parseArgs([]string{"--stale-warning", "0", "--policy", conf, "--min-age", "2m", "--apache-user", "www-data"})
	if err != nil {
		t.Fatal(err)
	}
	if o.policy.MinAge != 2*time.Minute || !o.policy.ApacheUIDs[33] || o.policy.ApacheUIDs[65534] {
		t.Errorf("with flags: min age %s, users %v; want the flags' 2m and www-data", o.policy.MinAge, o.policy.ApacheUIDs)
	}
	for body, want := range map[string]string{
		"min_age = \"soon\"\n":                "policy file " + conf + `: min_age: time: invalid duration "soon"`,
		"min_age = \"-1m\"\n":                 "policy file " + conf + ": min_age: -1m0s is negative",
		"apache_users = [\"no-such-user\"]\n": "policy file " + conf + `: apache_users: unknown user: "no-such-user"`,
	} {
		write(body)
		if _, err := parseArgs([]string{"--stale-warning", "0", "--policy", conf}); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %s", body, err, want)
		}
	}
}
