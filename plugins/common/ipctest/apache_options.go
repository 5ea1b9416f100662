package ipctest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ApacheOptions are the ways a server can differ from NewApache's.
type ApacheOptions struct {
	// TLS adds a third listener, a <VirtualHost> with SSLEngine on, whose
	// private key is encrypted, so mod_ssl asks a pass-phrase dialog at
	// start (TLSPort, GetTLS).
	TLS bool
	// PassPhraseDelay is how long the dialog takes to answer: a person at
	// a prompt. The start-up process waits inside its first configuration
	// pass all that time, after it made its first arrays.
	PassPhraseDelay time.Duration
	// NonRootForeground runs the server as www-data with no User/Group,
	// in the foreground (-DFOREGROUND), with a master that is not its own
	// process-group leader and whose group leader has exited: a non-root
	// Apache under a supervisor that is not systemd.
	NonRootForeground bool
	// OneProcess runs that non-root foreground server as `apache2 -X`:
	// one process, no workers, ever.
	OneProcess bool
	// SplitDefines passes the foreground mode as two arguments,
	// `-D ONE_PROCESS -D FOREGROUND`, as apache2ctl and container images
	// do, instead of -X or -DFOREGROUND.
	SplitDefines bool
	// DefinesInConfig runs it as one process by `Define ONE_PROCESS` and
	// `Define FOREGROUND` in its config file, with no flag at all on its
	// command line.
	DefinesInConfig bool
	// Renamed runs a copy of apache2 under a name no census knows
	// (httpd-custom): only its use of APR says it is Apache.
	Renamed bool
	// RecycleWorkers ends each worker after one connection
	// (MaxConnectionsPerChild 1), and /map/ requests go through the
	// rewrite map, whose mutex the worker then locks: an array whose last
	// user is a worker that has exited, while the server runs.
	RecycleWorkers bool
	// PHPFPM hands *.php to PHP-FPM's pool on this socket through
	// mod_proxy_fcgi, as Debian's php-fpm package configures it, and
	// serves /ipctest.php from it (GetPHP).
	PHPFPM string
	// Cgroup is a cgroup directory (MemoryCgroup.Dir) the start-up
	// process joins before it runs Apache: the master, its workers and its
	// rewrite-map programs are all in it, as in a unit's cgroup.
	Cgroup string
	// MemoryHog adds a rewrite map program, started with the server, that
	// allocates without bound when a request for /hog/ asks it: what
	// pushes a memory cgroup past its limit.
	MemoryHog bool
}

// apacheHogConf is appended for MemoryHog.
const apacheHogConf = `RewriteMap hog prg:{{dir}}/hog.sh
RewriteRule ^/hog/(.*)$ /index.html?x=${hog:$1} [L]
`

// hogScript is the map program: for each key, a tail that holds a
// newline-free gigabyte in memory.
const hogScript = `#!/bin/sh
while read -r key; do
  head -c 1073741824 /dev/zero | tail -n 1 >/dev/null
  echo NULL
done
`

// apachePHPConf is appended for PHPFPM.
const apachePHPConf = `LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so
<FilesMatch "\.php$">
SetHandler "proxy:unix:{{socket}}|fcgi://localhost"
</FilesMatch>
`

// phpScript answers through PHP-FPM: the pool ran it.
const phpScript = "<?php echo 'php-fpm ', getmypid(), \"\\n\";\n"

// apacheRecycleConf is appended for RecycleWorkers.
const apacheRecycleConf = `MaxConnectionsPerChild 1
RewriteRule ^/map/(.*)$ /index.html?x=${upper:$1} [L]
`

// wwwDataUID is Debian's www-data (fixed by base-passwd).
const wwwDataUID = 33

// apacheTLSConf is appended for TLS: mod_ssl decrypts the key during the
// first configuration pass, so the dialog runs in the start-up process.
const apacheTLSConf = `Listen 127.0.0.1:{{port}}
SSLPassPhraseDialog exec:{{dir}}/passphrase.sh
<VirtualHost 127.0.0.1:{{port}}>
SSLEngine on
SSLCertificateFile {{dir}}/cert.pem
SSLCertificateKeyFile {{dir}}/key.pem
</VirtualHost>
`

// NewApacheWith writes the config for o; it skips (fails under CI)
// without apache2. The zero options give NewApache's server.
func NewApacheWith(t testing.TB, o ApacheOptions) *Apache {
	t.Helper()
	_, err := os.Stat(ApacheBinary)
	Require(t, err == nil, "needs Debian's apache2 (make deps)")
	// Not t.TempDir, whose parent is private to root: www-data reads
	// the documents, and a non-root server its config, key and script.
	dir := WorldReadableDir(t, "ipcwatch-apache-")
	a := &Apache{Dir: dir, opts: o, port: freePort(t), binary: ApacheBinary}
	if o.Renamed {
		a.binary = filepath.Join(dir, "httpd-custom")
		if err := copyFile(ApacheBinary, a.binary, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{port1}}", a.port, "{{port2}}", freePort(t), "{{start}}", strconv.Itoa(startServers)).Replace(apacheConf)
	if o.NonRootForeground {
		// A server started by its own user has nobody to switch to.
		conf = strings.Replace(conf, "User www-data\nGroup www-data\n", "", 1)
	}
	if o.RecycleWorkers {
		conf += apacheRecycleConf
	}
	if o.DefinesInConfig {
		conf = "Define ONE_PROCESS\nDefine FOREGROUND\n" + conf
	}
	if o.PHPFPM != "" {
		conf += strings.ReplaceAll(apachePHPConf, "{{socket}}", o.PHPFPM)
	}
	if o.TLS {
		_, err := exec.LookPath("openssl")
		Require(t, err == nil, "needs the openssl command for the TLS key")
		a.tlsPort = freePort(t)
		conf += strings.NewReplacer("{{dir}}", dir, "{{port}}", a.tlsPort).Replace(apacheTLSConf)
		if err := writeTLSFiles(dir, o.PassPhraseDelay); err != nil {
			t.Fatal(err)
		}
	}
	if o.MemoryHog {
		conf += strings.ReplaceAll(apacheHogConf, "{{dir}}", dir)
		if err := os.WriteFile(filepath.Join(dir, "hog.sh"), []byte(hogScript), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{"httpd.conf": conf, "index.html": "ipctest\n", "ipctest.php": phpScript}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if o.NonRootForeground {
		// www-data writes the pid file, the logs and the shmcb file.
		if err := chownTree(dir, wwwDataUID); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// TLSPort is the HTTPS listener's port, "" without TLS.
func (a *Apache) TLSPort() string { return a.tlsPort }

func chownTree(dir string, uid int) error {
	return filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, uid)
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}
