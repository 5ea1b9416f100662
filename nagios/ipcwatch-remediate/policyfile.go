package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// defaultPolicyFile is where make install puts root's policy (with
// SYSCONFDIR=/etc); a variable only so that tests can point it elsewhere.
var defaultPolicyFile = "/etc/ipcwatch/remediate.conf"

// errPolicyFile refuses a policy file: unsafe, or not understood.
var errPolicyFile = errors.New("policy file")

// policyFile is root's choice of what the handler judges, removes and
// kills. Through sudo the caller passes only the Nagios or Icinga state;
// the file is how root widens or narrows the policy (a minimum age below
// the 5-minute floor, the Apache users, kill-orphans) without giving that
// choice to the monitoring user.
type policyFile struct {
	ApacheUsers []string `toml:"apache_users"`
	MinAge      string   `toml:"min_age"`
	MaxRemovals *int     `toml:"max_removals"`
	KillOrphans *bool    `toml:"kill_orphans"`
}

// loadPolicyFile reads the file; a missing file is no policy (the
// defaults). It must be a regular file of root's, writable by nobody
// else, as a plugin must be: it decides what runs as root.
func loadPolicyFile(path string) (*policyFile, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", errPolicyFile, path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w %s: not a regular file", errPolicyFile, path)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%w %s: writable by group or others (mode %04o)", errPolicyFile, path, st.Mode().Perm())
	}
	if uid, ok := fileOwner(st); ok && uid != 0 {
		return nil, fmt.Errorf("%w %s: belongs to uid %d, not root", errPolicyFile, path, uid)
	}
	var p policyFile
	md, err := toml.DecodeFile(path, &p)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", errPolicyFile, path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%w %s: unknown key %s (known: apache_users, min_age, max_removals, kill_orphans)", errPolicyFile, path, strings.Join(keys, ", "))
	}
	return &p, nil
}

// apply fills what the command line did not set (set: the flags given).
func (p *policyFile) apply(o *options, users *string, set map[string]bool, path string) error {
	if p.MinAge != "" && !set["min-age"] {
		d, err := time.ParseDuration(p.MinAge)
		if err != nil {
			return fmt.Errorf("%w %s: min_age: %w", errPolicyFile, path, err)
		}
		o.minAge = d
	}
	if len(p.ApacheUsers) > 0 && !set["apache-user"] {
		*users = strings.Join(p.ApacheUsers, ",")
	}
	if p.MaxRemovals != nil && !set["max-removals"] {
		o.maxRemovals = *p.MaxRemovals
	}
	if p.KillOrphans != nil && !set["kill-orphans"] {
		o.killOrphans = *p.KillOrphans
	}
	if slices.Contains(p.ApacheUsers, "") {
		return fmt.Errorf("%w %s: apache_users: empty user name", errPolicyFile, path)
	}
	return nil
}
