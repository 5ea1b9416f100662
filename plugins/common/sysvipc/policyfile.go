package sysvipc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
	if slices.Contains(p.ApacheUsers, "") {
		return nil, fmt.Errorf("%w %s: apache_users: empty user name", ErrPolicyFile, path)
	}
	if _, err := p.MinAgeOr(0); err != nil {
		return nil, err
	}
	for _, n := range p.Neighbours {
		if err := NeighbourPath(n); err != nil {
			return nil, fmt.Errorf("%w %s: neighbours: %q: %w", ErrPolicyFile, path, n, err)
		}
	}
	return &p, nil
}

// MinAgeOr is the file's min_age, or d where it sets none (or there is
// no file). Every face that judges takes it where its own flag or setting
// did not choose one, so that what the check and Telegraf count as stale
// is what the handler removes.
func (p *PolicyFile) MinAgeOr(d time.Duration) (time.Duration, error) {
	if p == nil || p.MinAge == "" {
		return d, nil
	}
	v, err := time.ParseDuration(p.MinAge)
	if err != nil {
		return d, fmt.Errorf("%w %s: min_age: %w", ErrPolicyFile, p.Path, err)
	}
	return v, nil
}

// UsersOr is the file's apache_users, or users where it sets none (or
// there is no file), as MinAgeOr.
func (p *PolicyFile) UsersOr(users []string) []string {
	if p == nil || len(p.ApacheUsers) == 0 {
		return users
	}
	return p.ApacheUsers
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
// path of a regular executable file (not a link to one, nor a path through
// a linked directory: a process is matched by the path its exe link
// shows, which is always the resolved one) that root owns in directories
// only root may write, as the installed PHP-FPM is. A path whose file is
// missing (the program was removed, or is being upgraded) is kept when
// its directory passes the same checks: a process still running the
// removed file shows that path, and only root could have removed it.
// Apache itself, and programs known to lock with System V semaphores, are
// refused.
func NeighbourPath(path string) error {
	switch {
	case !filepath.IsAbs(path):
		return errors.New("not an absolute path")
	case filepath.Clean(path) != path:
		return fmt.Errorf("not a clean path (write %q)", filepath.Clean(path))
	}
	if why := semaphoreUser(filepath.Base(path)); why != "" {
		return errors.New(why)
	}
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		dir := filepath.Dir(path)
		if resolved, err := filepath.EvalSymlinks(dir); err != nil || resolved != dir {
			return fmt.Errorf("missing, and its directory is not a real directory (%v)", orResolved(resolved, err))
		}
		if err := RootOnlyWritable(dir, true); err != nil {
			return fmt.Errorf("missing, and its directory %s: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		if target, err := filepath.EvalSymlinks(path); err == nil {
			return fmt.Errorf("a symbolic link (to %s): declare the executable itself", target)
		}
		return errors.New("a symbolic link: declare the executable itself")
	}
	if resolved, err := filepath.EvalSymlinks(path); err != nil || resolved != path {
		return fmt.Errorf("a linked directory above it makes it %v: declare that path, the one a process's exe link shows", orResolved(resolved, err))
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable regular file")
	}
	return RootOnlyWritable(path, true)
}

func orResolved(resolved string, err error) any {
	if err != nil {
		return err
	}
	return resolved
}

// semaphoreUser says why a program of that name is never a neighbour:
// Apache, and uWSGI (uwsgi, uwsgi-core, ...), whose processes use the
// System V semaphore arrays their own master made.
func semaphoreUser(name string) string {
	switch {
	case slices.Contains(apacheNames, name):
		return "Apache itself: its processes are judged as Apache, never as neighbours"
	case strings.HasPrefix(name, "uwsgi"):
		return "uWSGI locks with System V semaphores (its ipcsem lock engine, made as root and handed to its user): never a neighbour"
	}
	return ""
}
