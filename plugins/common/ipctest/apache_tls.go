package ipctest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// passPhrase unlocks the test key; it guards nothing.
const passPhrase = "ipctest-pass-phrase"

// passPhraseScript answers mod_ssl's `exec:` dialog, which runs it with
// "server:port" and the key type and reads the first line it prints.
const passPhraseScript = `#!/bin/sh
sleep %s
echo %s
`

// writeTLSFiles writes a self-signed certificate, its encrypted key and
// the dialog script that answers after delay.
func writeTLSFiles(dir string, delay time.Duration) error {
	cmd := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048",
		"-keyout", filepath.Join(dir, "key.pem"), "-out", filepath.Join(dir, "cert.pem"),
		"-passout", "pass:"+passPhrase, "-subj", "/CN=localhost", "-days", "2")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("openssl req: %w: %s", err, out)
	}
	// A key that slipped out unencrypted would skip the dialog, and the
	// tests that act during it would wait for nothing.
	key, err := os.ReadFile(filepath.Join(dir, "key.pem"))
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(key, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
		return fmt.Errorf("openssl wrote an unencrypted key: %.40q", key)
	}
	script := fmt.Sprintf(passPhraseScript, strconv.FormatFloat(delay.Seconds(), 'f', -1, 64), passPhrase)
	return os.WriteFile(filepath.Join(dir, "passphrase.sh"), []byte(script), 0o755)
}

// passPhraseScriptPath is the dialog program, as it appears in its argv.
func (a *Apache) passPhraseScriptPath() string { return filepath.Join(a.Dir, "passphrase.sh") }
