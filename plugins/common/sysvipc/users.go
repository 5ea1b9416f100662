package sysvipc

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// DefaultApacheUsers are the accounts Apache's children run as on the
// distributions we know: Red Hat (apache), Debian (www-data), SUSE
// (wwwrun), some BSD-derived setups (httpd) and the upstream default
// (nobody).
var DefaultApacheUsers = []string{"apache", "www-data", "wwwrun", "httpd", "nobody"}

// ErrUnknownUser means a configured Apache user exists neither by name nor
// as a numeric uid.
var ErrUnknownUser = errors.New("unknown user")

// LookupUsers maps user names (or numeric uids) to uids. With strict
// false, names missing on this host are skipped: the defaults list users
// of several distributions and each host has only some of them.
func LookupUsers(names []string, strict bool) (map[uint32]string, error) {
	uids := make(map[uint32]string, len(names))
	for _, name := range names {
		if n, err := strconv.ParseUint(name, 10, 32); err == nil {
			uids[uint32(n)] = name
			continue
		}
		u, err := user.Lookup(name)
		if err != nil {
			var unknown user.UnknownUserError
			if !strict && errors.As(err, &unknown) {
				continue
			}
			return nil, fmt.Errorf("%w: %q: %w", ErrUnknownUser, name, err)
		}
		n, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: %q has uid %q: %w", ErrUnknownUser, name, u.Uid, err)
		}
		uids[uint32(n)] = name
	}
	return uids, nil
}

// UIDSet is the set form Policy takes.
func UIDSet(uids map[uint32]string) map[uint32]bool {
	set := make(map[uint32]bool, len(uids))
	for uid := range uids {
		set[uid] = true
	}
	return set
}

// UserName names a uid for output: the account name, or the number when
// the host has no such account.
func UserName(uid uint32) string {
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		return u.Username
	}
	return strconv.FormatUint(uint64(uid), 10)
}
