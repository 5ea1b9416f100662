package ipctest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// httpClient talks to the test's servers only: no proxy from the
// environment, no kept-alive connection to hold a worker busy, a
// self-signed certificate accepted, and a short timeout because a hung
// worker is a finding, not something to wait out.
var httpClient = &http.Client{
	Timeout: 3 * time.Second,
	Transport: &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
	},
}

// URL is path's address on the plain HTTP listener, for a request the
// test makes its own way (one that is meant to hang, say).
func (a *Apache) URL(path string) string { return "http://127.0.0.1:" + a.port + withSlash(path) }

// Get requests path over plain HTTP and returns the status code. The test
// process must be in the server's network namespace (Enter).
func (a *Apache) Get(path string) (int, error) {
	return get("http://127.0.0.1:" + a.port + withSlash(path))
}

// GetTLS requests path over HTTPS (TLS listener) and returns the status
// code: any status means the handshake with the decrypted key worked.
func (a *Apache) GetTLS(path string) (int, error) {
	if a.tlsPort == "" {
		return 0, errors.New("apache has no TLS listener")
	}
	return get("https://127.0.0.1:" + a.tlsPort + withSlash(path))
}

func get(url string) (int, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func withSlash(path string) string {
	if strings.HasPrefix(path, "/") {
		return path
	}
	return "/" + path
}

// GetPHP requests /ipctest.php (ApacheOptions.PHPFPM) and returns the pid
// of the PHP-FPM worker that ran it.
func (a *Apache) GetPHP() (int, error) {
	resp, err := httpClient.Get("http://127.0.0.1:" + a.port + "/ipctest.php")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var pid int
	if _, err := fmt.Sscanf(string(body), "php-fpm %d", &pid); err != nil || resp.StatusCode != 200 {
		return 0, fmt.Errorf("GET /ipctest.php: %d %q", resp.StatusCode, body)
	}
	return pid, nil
}
