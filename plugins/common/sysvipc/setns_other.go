//go:build !linux

package sysvipc

import (
	"errors"
	"fmt"
)

// InNamespace is unavailable off Linux.
func (fs FS) InNamespace(int, func(FS) error) error {
	return fmt.Errorf("%w: setns", errors.ErrUnsupported)
}
