package main

import (
	"strings"

	"github.com/ipcwatch/ipcwatch/plugins/common/sysvipc"
)

// defaultPolicyFile is where make install puts root's policy (with
// SYSCONFDIR=/etc); a variable only so that tests can point it elsewhere.
var defaultPolicyFile = sysvipc.DefaultPolicyFile

// errPolicyFile refuses a policy file: unsafe, or not understood.
var errPolicyFile = sysvipc.ErrPolicyFile

// loadPolicyFile reads root's policy (sysvipc.LoadPolicyFile): through
// sudo the caller passes only the Nagios or Icinga state; the file is how
// root widens or narrows the policy (a minimum age below the 5-minute
// floor, the Apache users, kill-orphans, the declared neighbours)
// without giving that choice to the monitoring user.
func loadPolicyFile(path string) (*sysvipc.PolicyFile, error) { return sysvipc.LoadPolicyFile(path) }

// applyPolicyFile fills what the command line did not set (set: the
// flags given). Neighbours come from the file alone.
func applyPolicyFile(p *sysvipc.PolicyFile, o *options, users *string, set map[string]bool) error {
	if !set["min-age"] {
		d, err := p.MinAgeOr(o.minAge)
		if err != nil {
			return err
		}
		o.minAge = d
	}
	if !set["apache-user"] {
		*users = strings.Join(p.UsersOr(strings.Split(*users, ",")), ",")
	}
	if p.MaxRemovals != nil && !set["max-removals"] {
		o.maxRemovals = *p.MaxRemovals
	}
	if p.KillOrphans != nil && !set["kill-orphans"] {
		o.killOrphans = *p.KillOrphans
	}
	o.neighbours = p.Neighbours
	return nil
}
