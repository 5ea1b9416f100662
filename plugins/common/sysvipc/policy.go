package sysvipc

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MaxMinAge bounds the minimum age every face accepts: longer than any
// array lives in practice, and far from where a Duration overflows.
const MaxMinAge = 365 * 24 * time.Hour

// ErrNoUsers is an empty list of Apache users.
var ErrNoUsers = errors.New("no user given")

// PolicyField names what was wrong in a policy, so each face can name its
// own flag or option for it.
type PolicyField int

// The fields of a policy.
const (
	FieldUsers PolicyField = iota + 1
	FieldMinAge
)

// PolicyError is a policy NewPolicy refused, with the field at fault.
type PolicyError struct {
	Field PolicyField
	Err   error
}

func (e *PolicyError) Error() string { return e.Err.Error() }
func (e *PolicyError) Unwrap() error { return e.Err }

// NewPolicy is the one way every face builds the classifier's policy from
// what its operator chose. Users are names or numeric uids; a name of
// DefaultApacheUsers that this host lacks is skipped (the defaults cover
// several distributions and each host has only some of them), any other
// unknown name is ErrUnknownUser, in the check, the Telegraf input and
// the remediation plugin alike. Errors are *PolicyError. Now is set by
// the caller per judgement (At).
func NewPolicy(users []string, minAge time.Duration) (Policy, error) {
	var names []string
	for _, u := range users {
		if u = strings.TrimSpace(u); u != "" {
			names = append(names, u)
		}
	}
	switch {
	case len(names) == 0:
		return Policy{}, &PolicyError{FieldUsers, ErrNoUsers}
	case minAge < 0:
		return Policy{}, &PolicyError{FieldMinAge, fmt.Errorf("%s is negative", minAge)}
	case minAge > MaxMinAge:
		return Policy{}, &PolicyError{FieldMinAge, fmt.Errorf("%s is above the maximum %s", minAge, MaxMinAge)}
	}
	uids := map[uint32]string{}
	for _, name := range names {
		found, err := LookupUsers([]string{name}, !slices.Contains(DefaultApacheUsers, name))
		if err != nil {
			return Policy{}, &PolicyError{FieldUsers, err}
		}
		for uid, n := range found {
			uids[uid] = n
		}
	}
	return Policy{ApacheUIDs: UIDSet(uids), Users: uids, MinAge: minAge}, nil
}

// At is the policy judging at now.
func (p Policy) At(now time.Time) Policy {
	p.Now = now
	return p
}
