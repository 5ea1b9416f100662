package sysvipc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultPolicyFile is root's policy, where the packages and make install
// put it (make sets it with -X to $(SYSCONFDIR)/ipcwatch/remediate.conf,
// for every program alike). The remediation handler takes all of it; the
// check and the Telegraf input read its neighbours, so that what they
// count as stale is what the handler would remove.
var DefaultPolicyFile = "/etc/ipcwatch/remediate.conf"

// ErrPolicyFile refuses a policy file: unsafe, or not understood.
var ErrPolicyFile = errors.New("policy file")

// PolicyFile is root's choice of what the handler judges, removes and
// kills. Through sudo the caller passes only the Nagios or Icinga state;
// the file is how root widens or narrows the policy without giving that
// choice to the monitoring user. It is never secret (0644).
type PolicyFile struct {
	Path        string   `toml:"-"`
	ApacheUsers []string `toml:"apache_users"`
	MinAge      string   `toml:"min_age"`
	MaxRemovals *int     `toml:"max_removals"`
	KillOrphans *bool    `toml:"kill_orphans"`
	// Neighbours are executables, by whole path, whose processes never
	// use a System V semaphore array they did not make (nginx, a PHP
	// CLI): they do not keep an array root made from being stale.
	Neighbours []string `toml:"neighbours"`
}

// policyKeys are the keys a policy file may hold, for the error that
// names an unknown one.
const policyKeys = "apache_users, min_age, max_removals, kill_orphans, neighbours"

// LoadPolicyFile reads root's policy; a missing file is no policy (nil,
// the defaults). It must be a regular file of root's, writable by nobody
// else, in directories only root may write: it decides what runs, and
// what is removed, as root. Every declared neighbour is checked the same
// way (NeighbourPath).
func LoadPolicyFile(path string) (*PolicyFile, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrPolicyFile, path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w %s: not a regular file", ErrPolicyFile, path)
	}
	if err := RootOnlyWritable(path, true); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrPolicyFile, path, err)
	}
	p := PolicyFile{Path: path}
	md, err := toml.DecodeFile(path, &p)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrPolicyFile, path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%w %s: unknown key %s (known: %s)", ErrPolicyFile, path, strings.Join(keys, ", "), policyKeys)
	}
	for _, n := range p.Neighbours {
		if err := NeighbourPath(n); err != nil {
			return nil, fmt.Errorf("%w %s: neighbours: %q: %w", ErrPolicyFile, path, n, err)
		}
	}
	return &p, nil
}

// NeighbourSet is the declared neighbours as Policy.Neighbours takes
// them; nil without a file.
func (p *PolicyFile) NeighbourSet() map[string]bool {
	if p == nil || len(p.Neighbours) == 0 {
		return nil
	}
	set := make(map[string]bool, len(p.Neighbours))
	for _, n := range p.Neighbours {
		set[n] = true
	}
	return set
}

// NeighbourPath checks one declared neighbour: the whole, clean, absolute
// path of a regular executable file (not a link to one, whose target
// someone may change: name the target) that root owns in directories only
// root may write, as the installed PHP-FPM is. A process is matched by
// the path its exe link shows, which is always the resolved one.
func NeighbourPath(path string) error {
	switch {
	case !filepath.IsAbs(path):
		return errors.New("not an absolute path")
	case filepath.Clean(path) != path:
		return fmt.Errorf("not a clean path (write %q)", filepath.Clean(path))
	}
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		if target, err := filepath.EvalSymlinks(path); err == nil {
			return fmt.Errorf("a symbolic link (to %s): declare the executable itself", target)
		}
		return errors.New("a symbolic link: declare the executable itself")
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable regular file")
	}
	return RootOnlyWritable(path, true)
}
