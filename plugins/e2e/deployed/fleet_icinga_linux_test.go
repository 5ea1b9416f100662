package deployed

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// fleetAgent is one agent of the fleet test: its endpoint name (its
// certificate's CN) and the two ends of its link to the master.
type fleetAgent struct{ name, addr, masterAddr, link string }

var fleetAgents = []fleetAgent{
	{name: "agent1", addr: "10.99.1.2", masterAddr: "10.99.1.1", link: "fleet1"},
	{name: "agent2", addr: "10.99.2.2", masterAddr: "10.99.2.1", link: "fleet2"},
}

// The master's API user: what the test reads the master's view with.
const (
	fleetAPIUser     = "fleet-test"
	fleetAPIPassword = "fleet-test-password"
)

// TestIcingaFleet is ipcwatch in an Icinga 2 fleet: one master and two
// agents, each agent a host of its own (network, IPC, PID and mount
// namespaces), linked to the master by a veth pair, with certificates made
// offline by the master's own CA (icinga2 node setup --master, icinga2 pki
// new-cert and sign-csr). The master runs the shipped apply rule: the check
// and its event handler run on each agent through command_endpoint. Agent
// 2 has the outage (SIGKILLed Apache generations fill SEMMNI; Apache cannot
// start), agent 1 a healthy Apache. The master's own compat log and API
// show agent 2 CRITICAL HARD and agent 1 OK; the event handler runs on
// agent 2 alone, through sudo as nagios, removes the leak, and agent 2
// goes back to OK. Agent 1's arrays are untouched.
func TestIcingaFleet(t *testing.T) {
	_, err := exec.LookPath("icinga2")
	ipctest.Require(t, err == nil, "needs Debian's icinga2-bin (make deps)")
	_, err = exec.LookPath("ip")
	ipctest.Require(t, err == nil, "needs ip from Debian's iproute2 (make deps)")
	if !ipctest.Enter(t) {
		return
	}
	if role := ipctest.Role(); role != "" {
		runFleetAgent(t, role)
		return
	}
	runFleetMaster(t)
}

func runFleetMaster(t *testing.T) {
	root := installed(t)
	privateRunAndLog(t)
	icingaFiles(t, root)
	// icinga2 pki runs as Icinga's user: the CSRs and keys go to a
	// directory of its own, where the agents (root) fetch theirs.
	certs := filepath.Join(ipctest.WorldReadableDir(t, "ipcwatch-fleet-"), "certs")
	uid, gid := ipctest.Account(t, "nagios", 0)
	must(t, os.Mkdir(certs, 0o700))
	must(t, os.Chown(certs, uid, gid))
	icingaCLI(t, "node", "setup", "--master", "--cn", "master", "--zone", "master", "--disable-confd")
	for _, a := range fleetAgents {
		// Offline, on the master, in a directory Icinga's user owns (the
		// pki commands write as that user): a key and a CSR for the
		// agent, signed by the master's CA (README: Fleet).
		icingaCLIIn(t, certs, "pki", "new-cert", "--cn", a.name, "--key", a.name+".key", "--csr", a.name+".csr")
		icingaCLIIn(t, certs, "pki", "sign-csr", "--csr", a.name+".csr", "--cert", a.name+".crt")
	}
	must(t, copyAs("/var/lib/icinga2/ca/ca.crt", filepath.Join(certs, "ca.crt"), 0o644, 0, 0))

	// The master's configuration: the shipped examples, one zone and one
	// host per agent, and the apply rule. The only edits are names,
	// addresses and intervals.
	var zones, hosts strings.Builder
	for _, a := range fleetAgents {
		rename := strings.NewReplacer("web1.example.org", a.name, "192.0.2.11", a.addr)
		zones.WriteString(rename.Replace(shippedExample(t, root, "zones-agent.conf")))
		hosts.WriteString(rename.Replace(shippedExample(t, root, "host-agent.conf")))
	}
	services := strings.NewReplacer("check_interval = 1m", "check_interval = 2s", "retry_interval = 30s", "retry_interval = 1s").
		Replace(shippedExample(t, root, "services.conf"))
	appendFile(t, "/etc/icinga2/zones.conf", zones.String())
	must(t, os.MkdirAll("/etc/icinga2/zones.d/master", 0o755))
	must(t, os.WriteFile("/etc/icinga2/zones.d/master/hosts.conf", []byte(hosts.String()), 0o644))
	must(t, os.WriteFile("/etc/icinga2/zones.d/master/sysvipc.conf", []byte(services), 0o644))
	must(t, os.WriteFile("/etc/icinga2/conf.d/api-users.conf", []byte(fmt.Sprintf(
		"object ApiUser %q {\n  password = %q\n  permissions = [ \"objects/query/Service\", \"objects/query/Host\" ]\n}\n",
		fleetAPIUser, fleetAPIPassword)), 0o644))
	icingaCLI(t, "feature", "enable", "compatlog")
	// The master's main log at notice names each event handler it has an
	// agent run (a remote event handler leaves no compat log line).
	mainlog, err := os.ReadFile("/etc/icinga2/features-available/mainlog.conf")
	must(t, err)
	must(t, os.WriteFile("/etc/icinga2/features-available/mainlog.conf",
		[]byte(strings.Replace(string(mainlog), `severity = "information"`, `severity = "notice"`, 1)), 0o644))

	// The agents, each wired to the master by a veth pair.
	agents := map[string]*ipctest.Host{}
	for _, a := range fleetAgents {
		h := ipctest.StartHost(t, a.name, "IPCWATCH_INSTALLED_ROOT="+root, "IPCWATCH_FLEET_CERTS="+certs)
		agents[a.name] = h
		link(t, h.PID, a)
	}
	var outage time.Time
	for _, a := range fleetAgents {
		msg, err := agents[a.name].Await(2 * time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ns, ok := strings.CutPrefix(msg, "ready, outage at "); ok && a.name == "agent2" {
			n, _ := strconv.ParseInt(ns, 10, 64)
			outage = time.Unix(0, n)
		}
	}
	if outage.IsZero() {
		t.Fatal("agent2 did not report its outage")
	}

	icinga := startDaemon(t, "icinga2", "daemon", "-DRunAsUser=nagios", "-DRunAsGroup=nagios")
	compat := "/var/log/icinga2/compat/icinga.log"
	recovered := regexp.MustCompile(`SERVICE ALERT: agent2;sysvipc;OK;HARD;\d+;SYSVIPC OK - 0/9 semaphore arrays`)
	log := waitLog(compat, recovered, 2*time.Minute)
	resolved := time.Now()
	agent1 := apiService(t, "agent1")
	agent2 := apiService(t, "agent2")
	notAsRoot(t, "icinga2")
	icinga.stop()
	t.Logf("master's compat log:\n%s\ndaemon:\n%s", log, icinga.out.String())
	if !recovered.MatchString(log) {
		mainLog, _ := os.ReadFile("/var/log/icinga2/icinga2.log")
		t.Fatalf("agent2's service never recovered on the master; the master's log:\n%s", mainLog)
	}
	if errs := regexp.MustCompile(`(?m)^.*critical/.*$`).FindAllString(icinga.out.String(), -1); len(errs) > 0 {
		t.Errorf("the master logged errors: %q", errs)
	}
	t.Logf("from agent2's outage to its OK on the master: %s", resolved.Sub(outage).Round(100*time.Millisecond))

	// The stale count is root's policy's (min_age 0s): what the handler
	// removes, not the 5-minute default's 0.
	if want := regexp.MustCompile(`SERVICE ALERT: agent2;sysvipc;CRITICAL;HARD;\d+;SYSVIPC CRITICAL - 9/9 semaphore arrays \(100\.0%\).*\b9 stale apache arrays`); !want.MatchString(log) {
		t.Errorf("the master's compat log lacks %s", want)
	}
	if unwanted := regexp.MustCompile(`SERVICE ALERT: agent1;sysvipc;(WARNING|CRITICAL|UNKNOWN)`); unwanted.MatchString(log) {
		t.Errorf("the master's compat log has %s", unwanted)
	}
	mainLog, err := os.ReadFile("/var/log/icinga2/icinga2.log")
	must(t, err)
	if want := "Executing event handler 'sysvipc-remediate' for checkable 'agent2!sysvipc'"; !strings.Contains(string(mainLog), want) {
		t.Errorf("the master's log lacks %q:\n%s", want, mainLog)
	}
	// The master's API: agent 1 OK all along and checked on its agent,
	// agent 2 OK again after its HARD CRITICAL.
	if agent1.State != 0 || agent1.LastHardState != 0 || !strings.HasPrefix(agent1.Output, "SYSVIPC OK - ") || agent1.CheckedOn != "agent1" {
		t.Errorf("the master's API shows agent1's service %+v, want OK, checked on agent1", agent1)
	}
	if agent2.State != 0 || agent2.LastHardState != 0 || agent2.CheckedOn != "agent2" {
		t.Errorf("the master's API shows agent2's service %+v, want OK again, checked on agent2", agent2)
	}
	for _, a := range fleetAgents {
		agents[a.name].Finish(t)
	}
}

// runFleetAgent is one agent: Icinga 2 set up with node setup and the
// master's signed certificate, the installed ipcwatch, and its Apache.
// It reports ready, waits for the test's end, then checks its own side.
func runFleetAgent(t *testing.T, name string) {
	root := installed(t)
	asInstalledHost(t, root)
	icingaFiles(t, root)

	var ap *ipctest.Apache
	var live []int32
	if name == "agent2" {
		ap = leakGenerations(t, 3)
		if err := ap.Start(); err == nil || !strings.Contains(err.Error(), "AH00023") {
			t.Fatalf("agent2's Apache did not fail with AH00023 in the outage: %v", err)
		}
	} else {
		must(t, ipctest.SetSemLimits(250, 32000, 32, 32))
		ap = ipctest.NewApache(t)
		must(t, ap.Start())
		live = ipctest.SemIDs(t)
		if len(live) == 0 {
			t.Fatal("agent1's Apache made no arrays")
		}
	}
	outage := time.Now()

	icingaCLI(t, "node", "setup", "--cn", name, "--zone", name, "--endpoint", "master",
		"--parent_zone", "master", "--accept-commands", "--accept-config", "--disable-confd")
	// node setup made the agent a key and a self-signed certificate; the
	// master's CA signed the ones to use (README: Fleet).
	certs := os.Getenv("IPCWATCH_FLEET_CERTS")
	uid, gid := ipctest.Account(t, "nagios", 0)
	must(t, copyAs(filepath.Join(certs, name+".key"), "/var/lib/icinga2/certs/"+name+".key", 0o600, uid, gid))
	must(t, copyAs(filepath.Join(certs, name+".crt"), "/var/lib/icinga2/certs/"+name+".crt", 0o644, uid, gid))
	must(t, copyAs(filepath.Join(certs, "ca.crt"), "/var/lib/icinga2/certs/ca.crt", 0o644, uid, gid))

	icinga := startDaemon(t, "icinga2", "daemon", "-DRunAsUser=nagios", "-DRunAsGroup=nagios")
	if err := waitListening("127.0.0.1:5665", icinga, time.Minute); err != nil {
		t.Fatalf("agent's API: %v\n%s", err, icinga.out.String())
	}
	ipctest.Tell("ready, outage at %d", outage.UnixNano())
	ipctest.AwaitEnd()
	notAsRoot(t, "icinga2")
	icinga.stop()
	agentLog, _ := os.ReadFile("/var/log/icinga2/icinga2.log")
	t.Logf("%s's icinga2.log:\n%s", name, agentLog)

	if name == "agent2" {
		calls, removed := installedAudit(t)
		if calls == 0 || removed != 9 {
			t.Errorf("agent2's audit log records %d calls and %d removals, want the 9 leaked arrays removed", calls, removed)
		}
		answers(t, ap, "on agent2 after its event handler ran")
		return
	}
	if now := ipctest.SemIDs(t); fmt.Sprint(now) != fmt.Sprint(live) {
		t.Errorf("agent1's arrays changed: %v, were %v", now, live)
	}
	if code, err := ap.Get("/index.html"); err != nil || code != 200 {
		t.Errorf("agent1's Apache answers %d, %v", code, err)
	}
	// Icinga runs an event handler at every state change, the first OK
	// included: on agent1 the handler may only have declined to act.
	if _, err := os.Stat("/var/log/ipcwatch/remediate.jsonl"); err == nil {
		b, _ := os.ReadFile("/var/log/ipcwatch/remediate.jsonl")
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var rec struct {
				Trigger struct {
					State    string `json:"state"`
					Decision string `json:"decision"`
				} `json:"trigger"`
				Actions    []json.RawMessage `json:"actions"`
				OrphanActs []json.RawMessage `json:"orphan_actions"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("agent1's audit line %q: %v", line, err)
			}
			t.Logf("agent1's handler was called at %s: %s", rec.Trigger.State, rec.Trigger.Decision)
			if rec.Trigger.State == "CRITICAL" || len(rec.Actions) > 0 || len(rec.OrphanActs) > 0 {
				t.Errorf("the handler acted on agent1: %s", line)
			}
		}
	}
}

// icingaFiles gives this host's Icinga 2 its own files: a copy of
// Debian's /etc/icinga2 and empty data, cache, log and spool directories,
// so every command runs with Icinga's own paths. /run and /var/log must be
// private already. The ipcwatch commands come from the installed tree
// (the package puts them where <plugins-contrib> loads them).
func icingaFiles(t *testing.T, root string) {
	t.Helper()
	// A host started from another sees that one's copy: Debian's is under it.
	for unix.Unmount("/etc/icinga2", unix.MNT_DETACH) == nil {
	}
	etc := filepath.Join(t.TempDir(), "icinga2")
	if out, err := exec.Command("cp", "-a", "/etc/icinga2", etc).CombinedOutput(); err != nil {
		t.Fatalf("copy /etc/icinga2: %v\n%s", err, out)
	}
	must(t, unix.Mount(etc, "/etc/icinga2", "", unix.MS_BIND, ""))
	t.Cleanup(func() { _ = unix.Unmount("/etc/icinga2", unix.MNT_DETACH) })
	uid, gid := ipctest.Account(t, "nagios", 0)
	for _, dir := range []string{"/var/lib/icinga2", "/var/cache/icinga2", "/var/spool/icinga2"} {
		must(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"))
		must(t, os.Chown(dir, uid, gid))
	}
	for _, dir := range []string{"/var/log/icinga2", "/var/log/icinga2/compat", "/run/icinga2", "/run/icinga2/cmd"} {
		must(t, os.MkdirAll(dir, 0o755))
		must(t, os.Chown(dir, uid, gid))
	}
	constants, err := os.ReadFile("/etc/icinga2/constants.conf")
	must(t, err)
	stock := regexp.MustCompile(`(?m)^const PluginDir = .*$`)
	if !stock.Match(constants) {
		t.Fatalf("Debian's constants.conf sets no PluginDir:\n%s", constants)
	}
	constants = stock.ReplaceAll(constants, []byte(fmt.Sprintf("const PluginDir = %q", filepath.Join(root, "usr/lib/nagios/plugins"))))
	must(t, os.WriteFile("/etc/icinga2/constants.conf", constants, 0o644))
	if contrib := filepath.Join(root, "usr/share/icinga2/include/plugins-contrib.d/sysvipc.conf"); root != "/" {
		appendFile(t, "/etc/icinga2/icinga2.conf", fmt.Sprintf("include %q\n", contrib))
	}
}

// icingaCLI runs an icinga2 command as root, as an admin would.
func icingaCLI(t *testing.T, args ...string) {
	t.Helper()
	icingaCLIIn(t, "/", args...)
}

// icingaCLIIn runs it in a directory.
func icingaCLIIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("icinga2", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("icinga2 %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("icinga2 %s: ok", strings.Join(args, " "))
}

// link wires an agent to the master: a veth pair, one end in the agent's
// network namespace.
func link(t *testing.T, pid int, a fleetAgent) {
	t.Helper()
	netns := fmt.Sprintf("--net=/proc/%d/ns/net", pid)
	for _, cmd := range [][]string{
		{"ip", "link", "add", a.link, "type", "veth", "peer", "name", "eth0", "netns", strconv.Itoa(pid)},
		{"ip", "addr", "add", a.masterAddr + "/24", "dev", a.link},
		{"ip", "link", "set", a.link, "up"},
		{"nsenter", netns, "ip", "addr", "add", a.addr + "/24", "dev", "eth0"},
		{"nsenter", netns, "ip", "link", "set", "eth0", "up"},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
		}
	}
}

// fleetService is what the master's API says of one agent's service.
type fleetService struct {
	State         float64 `json:"state"`
	StateType     float64 `json:"state_type"`
	LastHardState float64 `json:"last_hard_state"`
	Output        string
	CheckedOn     string
}

// apiService reads an agent's sysvipc service from the master's REST API,
// over TLS verified against the master's CA.
func apiService(t *testing.T, host string) fleetService {
	t.Helper()
	ca, err := os.ReadFile("/var/lib/icinga2/ca/ca.crt")
	must(t, err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "master"}}}
	req, err := http.NewRequest(http.MethodGet, "https://127.0.0.1:5665/v1/objects/services/"+host+"!sysvipc", nil)
	must(t, err)
	req.SetBasicAuth(fleetAPIUser, fleetAPIPassword)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var body struct {
		Results []struct {
			Attrs struct {
				fleetService
				LastCheckResult struct {
					Output      string `json:"output"`
					CheckSource string `json:"check_source"`
				} `json:"last_check_result"`
			} `json:"attrs"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Results) != 1 {
		t.Fatalf("the master's API on %s!sysvipc: %s, %v, %d results", host, resp.Status, err, len(body.Results))
	}
	s := body.Results[0].Attrs.fleetService
	s.Output = body.Results[0].Attrs.LastCheckResult.Output
	s.CheckedOn = body.Results[0].Attrs.LastCheckResult.CheckSource
	t.Logf("the master's API: %s!sysvipc state %v (type %v, last hard %v) on %s: %s", host, s.State, s.StateType, s.LastHardState, s.CheckedOn, s.Output)
	return s
}

// shippedExample reads one of the installed Icinga 2 fleet examples.
func shippedExample(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "usr/share/doc/ipcwatch/examples/icinga2-fleet", name))
	must(t, err)
	return string(b)
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString("\n" + text)
	must(t, err)
	must(t, f.Close())
}

func copyAs(src, dst string, mode os.FileMode, uid, gid int) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		return err
	}
	if err := os.Chmod(dst, mode); err != nil {
		return err
	}
	return os.Chown(dst, uid, gid)
}

// waitListening waits until the daemon accepts connections on addr.
func waitListening(addr string, d *daemon, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if !d.running() {
			return fmt.Errorf("%s exited", d.cmd.Path)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
