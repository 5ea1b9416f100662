package deployed

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// The shipped alerting rules, and the loopback addresses of the fleet: a
// private network namespace (Enter) has every port free.
const (
	alertRulesFile  = "../../inputs/sysvipc/alerts/sysvipc.rules.yml"
	alertRulesCount = 9 // alerting rules in alertRulesFile, each with a for:
	telegrafWeb1    = "127.0.0.1:9273"
	telegrafWeb2    = "127.0.0.1:9274"
	prometheusAddr  = "127.0.0.1:9090"
	web1HeldArrays  = 8 // web1's arrays, of SEMMNI 10
)

// prometheusConfig: both hosts' Telegraf endpoints scraped, and the rules
// evaluated, every second.
const prometheusConfig = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - sysvipc.rules.yml
scrape_configs:
  - job_name: telegraf
    static_configs:
      - targets: ["` + telegrafWeb1 + `", "` + telegrafWeb2 + `"]
`

// TestPrometheusFleet: two hosts, each a real Telegraf running the
// installed shim through the installed [[inputs.execd]] block as the
// telegraf user, in its own IPC namespace, with outputs.prometheus_client
// on its own loopback port: web1 in a child IPC namespace (SEMMNI 10,
// eight arrays of a user that is not Apache's: exactly 80.0 %, which
// check_sysvipc calls OK), web2 in the test's own. A real Prometheus
// (Debian's) scrapes both and evaluates the shipped rules, with only their
// for: durations shortened (promtool test rules covers the real ones).
// Three SIGKILLed Apaches fill web2's SEMMNI (9) until Apache cannot
// start: the critical SEMMNI alert, and the stale arrays' alert, fire for
// web2 alone, seen through Prometheus's HTTP API. The installed handler,
// as nagios through the real sudo under the installed rule, removes the
// leak, and the alerts resolve. web1 never alerts and keeps its arrays.
func TestPrometheusFleet(t *testing.T) {
	requireTelegraf(t)
	for _, bin := range []string{"prometheus", "promtool"} {
		_, err := exec.LookPath(bin)
		ipctest.Require(t, err == nil, "needs Debian's prometheus, with promtool (make deps)")
	}
	for _, bin := range []string{"nsenter", "/usr/bin/sudo"} {
		_, err := exec.LookPath(bin)
		ipctest.Require(t, err == nil, "needs "+bin+" (make deps: util-linux, sudo)")
	}
	if !ipctest.Enter(t) {
		return
	}
	began := time.Now()
	root := installed(t)
	asInstalledHost(t, root)
	telegrafUID, telegrafGID := ipctest.Account(t, "telegraf", 60999)
	promUID, promGID := ipctest.Account(t, "prometheus", 60998)
	nagiosUID, nagiosGID := ipctest.Account(t, "nagios", 0)
	if nagiosUID == 0 {
		t.Fatal("Debian's nagios4-core makes the nagios user (make deps)")
	}

	// web1: a child IPC namespace with SEMMNI 10 and eight arrays of uid
	// 4242, no Apache user: 80.0 %, at the warning threshold and not above
	// it, and never stale.
	web1 := ipctest.StartChildNamespace(t, [4]int{250, 32000, 32, 10}, web1HeldArrays, 4242)
	web1IPC := fmt.Sprintf("/proc/%d/ns/ipc", web1.PID)
	web1Arrays := func() int {
		t.Helper()
		out, err := exec.Command("nsenter", "--ipc="+web1IPC, "--", "cat", "/proc/sysvipc/sem").Output()
		if err != nil {
			t.Fatalf("read web1's /proc/sysvipc/sem: %v", err)
		}
		return strings.Count(strings.TrimSpace(string(out)), "\n")
	}
	if n := web1Arrays(); n != web1HeldArrays {
		t.Fatalf("web1 holds %d arrays, want %d", n, web1HeldArrays)
	}

	// Each host's Telegraf: the installed execd block as it is, a
	// Prometheus endpoint, its own hostname.
	dir := ipctest.WorldReadableDir(t, "ipcwatch-fleet-")
	b, err := os.ReadFile(os.Getenv("IPCWATCH_TELEGRAF"))
	must(t, err)
	telegraf := filepath.Join(dir, "telegraf")
	must(t, os.WriteFile(telegraf, b, 0o755))
	snippet, err := os.ReadFile(filepath.Join(root, "etc/telegraf/telegraf.d/ipcwatch.conf"))
	must(t, err)
	telegrafConf := func(host, listen string) string {
		t.Helper()
		conf := "[agent]\n  interval = \"1s\"\n  flush_interval = \"1s\"\n  hostname = \"" + host + "\"\n\n" + string(snippet) +
			"\n[[outputs.prometheus_client]]\n  listen = \"" + listen + "\"\n"
		path := filepath.Join(dir, host+".conf")
		must(t, os.WriteFile(path, []byte(conf), 0o644))
		return path
	}
	web1Conf, web2Conf := telegrafConf("web1", telegrafWeb1), telegrafConf("web2", telegrafWeb2)
	tg1 := startDaemon(t, "nsenter", "--ipc="+web1IPC, "--setuid", strconv.Itoa(telegrafUID), "--setgid", strconv.Itoa(telegrafGID),
		"--", telegraf, "--config", web1Conf)
	tg2 := startDaemonAsUser(t, telegrafUID, telegrafGID, telegraf, "--config", web2Conf)

	// Prometheus with the shipped rules, for: shortened to 3s.
	rules, err := os.ReadFile(alertRulesFile)
	must(t, err)
	forLine := regexp.MustCompile(`(?m)^(\s+for: )\S+$`)
	if n := len(forLine.FindAll(rules, -1)); n != alertRulesCount || strings.Count(string(rules), "- alert: ") != alertRulesCount {
		t.Fatalf("%s: %d for: lines, want one for each of its %d rules", alertRulesFile, n, alertRulesCount)
	}
	promDir := filepath.Join(dir, "prometheus")
	must(t, os.MkdirAll(filepath.Join(promDir, "data"), 0o755))
	must(t, os.WriteFile(filepath.Join(promDir, "sysvipc.rules.yml"), forLine.ReplaceAll(rules, []byte("${1}3s")), 0o644))
	promConf := filepath.Join(promDir, "prometheus.yml")
	must(t, os.WriteFile(promConf, []byte(prometheusConfig), 0o644))
	if out, code := ipctest.RunLogged(t, exec.Command("promtool", "check", "config", promConf)); code != 0 || !strings.Contains(out, fmt.Sprintf("SUCCESS: %d rules found", alertRulesCount)) {
		t.Fatalf("promtool check config: exit %d", code)
	}
	for _, p := range []string{promDir, filepath.Join(promDir, "data")} {
		must(t, os.Chown(p, promUID, promGID))
	}
	prom := startDaemonAsUser(t, promUID, promGID, "prometheus", "--config.file="+promConf,
		"--storage.tsdb.path="+filepath.Join(promDir, "data"), "--web.listen-address="+prometheusAddr)
	t.Cleanup(func() {
		if t.Failed() {
			for _, d := range []*daemon{prom, tg1, tg2} {
				d.stop()
			}
			t.Logf("prometheus:\n%s\ntelegraf web1:\n%s\ntelegraf web2:\n%s", prom.out.String(), tg1.out.String(), tg2.out.String())
		}
	})

	// Healthy: both hosts scraped (web1 8 arrays, web2 none), the rules
	// loaded, no alert.
	api := promAPI{t: t}
	if !pollUntil(30*time.Second, func() bool {
		resp, err := http.Get("http://" + prometheusAddr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("Prometheus not ready on %s within 30s", prometheusAddr)
	}
	if !pollUntil(60*time.Second, func() bool {
		v := api.query(`sysvipc_sem_arrays`)
		return len(v) == 2 && v["web1"] == "8" && v["web2"] == "0"
	}) {
		t.Fatalf("Prometheus does not see both hosts: %v", api.query(`sysvipc_sem_arrays`))
	}
	if n := api.ruleCount(); n != alertRulesCount {
		t.Fatalf("Prometheus loaded %d alerting rules, want %d", n, alertRulesCount)
	}
	if a := api.alerts(); len(a) != 0 {
		t.Fatalf("alerts on the healthy fleet: %+v", a)
	}
	notAsRoot(t, "telegraf")
	notAsRoot(t, "prometheus")

	// The outage on web2: SEMMNI 9, filled by three SIGKILLed Apaches.
	injecting := time.Now()
	ap := leakGenerations(t, 3)
	if err := ap.Start(); err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Fatalf("apache with SEMMNI full: %v", err)
	}
	outage := time.Now()
	t.Logf("outage injected on web2 in %s: SEMMNI 9 full, apache cannot start", outage.Sub(injecting).Round(time.Millisecond))

	// Poll until web2's critical and stale arrays' alerts fire; web1 must
	// never alert, and the critical must pass through pending (its for:).
	critical := func(a promAlert) bool {
		return a.Labels["alertname"] == "SysvipcSemArraysNearLimit" && a.Labels["severity"] == "critical" && a.Labels["host"] == "web2"
	}
	var fired, staleFired promAlert
	var firing time.Time
	sawPending := false
	web1Alerts := map[string]bool{}
	watch := func(done func([]promAlert) bool) bool {
		return pollUntil(60*time.Second, func() bool {
			as := api.alerts()
			for _, a := range as {
				if a.Labels["host"] != "web2" {
					web1Alerts[a.Labels["alertname"]+" "+a.Labels["severity"]+" "+a.State+" on "+a.Labels["host"]] = true
				}
			}
			return done(as)
		})
	}
	if !watch(func(as []promAlert) bool {
		for _, a := range as {
			if critical(a) && a.State == "pending" {
				sawPending = true
			}
			if critical(a) && a.State == "firing" && firing.IsZero() {
				fired, firing = a, time.Now()
			}
			if a.Labels["alertname"] == "SysvipcStaleArrays" && a.Labels["host"] == "web2" && a.State == "firing" {
				staleFired = a
			}
		}
		return !firing.IsZero() && staleFired.State != ""
	}) {
		t.Fatalf("the critical and stale arrays' alerts did not both fire for web2 within 60s: %+v", api.alerts())
	}
	if !sawPending {
		t.Errorf("the critical alert fired without being pending first (for: not applied)")
	}
	want := promAlert{
		Labels: map[string]string{"alertname": "SysvipcSemArraysNearLimit", "severity": "critical", "host": "web2", "instance": telegrafWeb2, "job": "telegraf"},
		Annotations: map[string]string{
			"summary":     "SYSVIPC CRITICAL - 9/9 semaphore arrays (100.0%)",
			"description": "web2 (" + telegrafWeb2 + ") uses more than 90% of SEMMNI, the kernel's limit on semaphore arrays. At SEMMNI Apache cannot start (AH00023). Arrays a dead Apache leaked show as sysvipc_sem_stale_arrays; ipcwatch-remediate removes them.",
			"runbook_url": "https://github.com/ipcwatch/ipcwatch/blob/main/README.md#the-event-handler-ipcwatch-remediate",
		},
	}
	if fmt.Sprint(fired.Labels) != fmt.Sprint(want.Labels) || fmt.Sprint(fired.Annotations) != fmt.Sprint(want.Annotations) {
		t.Errorf("the firing alert:\n got %v %v\nwant %v %v", fired.Labels, fired.Annotations, want.Labels, want.Annotations)
	}
	t.Logf("firing: %v %v (active since %s)", fired.Labels, fired.Annotations, fired.ActiveAt)
	if s := staleFired.Annotations["summary"]; s != "SYSVIPC WARNING - 9 stale apache arrays" || staleFired.Labels["severity"] != "warning" {
		t.Errorf("the stale arrays' alert: %v %v", staleFired.Labels, staleFired.Annotations)
	}

	// The handler, as the event handler runs it: nagios through the real
	// sudo under the installed rule, in web2's IPC namespace.
	handler := filepath.Join(root, "usr/sbin/ipcwatch-remediate")
	out, code := runAs(t, nagiosUID, nagiosGID, "", "/usr/bin/sudo", "-n", handler, "--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3")
	if code != 0 || !strings.Contains(out, "removed 9 of 9 stale arrays, 0 skipped, 0 failed; semaphore arrays 9 -> 0") {
		t.Fatalf("the handler through sudo: exit %d, %s", code, out)
	}
	remediated := time.Now()

	// Poll until the critical is no longer active, then until web2 has
	// no alert at all (the stale arrays' alert resolves with it).
	var resolved time.Time
	if !watch(func(as []promAlert) bool {
		left := 0
		for _, a := range as {
			if critical(a) {
				left++
			}
		}
		if left == 0 && resolved.IsZero() {
			resolved = time.Now()
		}
		return !resolved.IsZero() && len(as) == 0
	}) {
		t.Fatalf("alerts still active 60s after the handler removed the leak: %+v", api.alerts())
	}
	if len(web1Alerts) > 0 {
		t.Errorf("web1 alerted: %v", web1Alerts)
	}
	if v := api.query(`sysvipc_sem_arrays`); v["web1"] != "8" || v["web2"] != "0" {
		t.Errorf("after the handler, Prometheus sees arrays %v, want web1 8 and web2 0", v)
	}
	if n := web1Arrays(); n != web1HeldArrays {
		t.Errorf("web1 holds %d arrays after web2's handler, want its %d", n, web1HeldArrays)
	}
	answers(t, ap, "on web2 after the alert resolved")

	t.Logf("outage to firing %s, outage to resolved %s (handler to resolved %s), test %s",
		firing.Sub(outage).Round(time.Millisecond), resolved.Sub(outage).Round(time.Millisecond),
		resolved.Sub(remediated).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// startDaemonAsUser is startDaemon as a user.
func startDaemonAsUser(t *testing.T, uid, gid int, name string, args ...string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(name, args...)}
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	d.cmd.Dir = "/"
	d.cmd.Stdout, d.cmd.Stderr = &d.out, &d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	return d
}

// pollUntil polls cond every 100 ms until it holds or the time is up.
func pollUntil(limit time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// promAlert is an active alert as /api/v1/alerts lists it.
type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    string            `json:"activeAt"`
}

// promAPI reads the test's Prometheus over its HTTP API; a request that
// fails fails the test.
type promAPI struct{ t *testing.T }

func (p promAPI) get(path string, data any) {
	p.t.Helper()
	resp, err := http.Get("http://" + prometheusAddr + path)
	if err != nil {
		p.t.Fatalf("prometheus %s: %v", path, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		p.t.Fatalf("prometheus %s: HTTP %d, status %q, %s, %v", path, resp.StatusCode, body.Status, body.Error, err)
	}
	if err := json.Unmarshal(body.Data, data); err != nil {
		p.t.Fatalf("prometheus %s: %v", path, err)
	}
}

// alerts lists the active (pending or firing) alerts.
func (p promAPI) alerts() []promAlert {
	p.t.Helper()
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	p.get("/api/v1/alerts", &data)
	return data.Alerts
}

// query evaluates an instant query and returns each series' value by its
// host label.
func (p promAPI) query(q string) map[string]string {
	p.t.Helper()
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	p.get("/api/v1/query?query="+url.QueryEscape(q), &data)
	out := map[string]string{}
	for _, r := range data.Result {
		out[r.Metric["host"]] = fmt.Sprint(r.Value[1])
	}
	return out
}

// ruleCount counts the alerting rules Prometheus loaded.
func (p promAPI) ruleCount() int {
	p.t.Helper()
	var data struct {
		Groups []struct {
			Rules []struct {
				Type string `json:"type"`
			} `json:"rules"`
		} `json:"groups"`
	}
	p.get("/api/v1/rules", &data)
	n := 0
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			if r.Type == "alerting" {
				n++
			}
		}
	}
	return n
}
