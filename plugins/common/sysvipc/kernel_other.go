//go:build !(linux && (amd64 || arm64 || riscv64 || loong64))

package sysvipc

import (
	"errors"
	"fmt"
)

var errUnsupported = fmt.Errorf("%w: semctl on this platform", errors.ErrUnsupported)

// KernelUsage is unavailable here; the files are counted instead.
func KernelUsage() (Usage, error) { return Usage{}, errUnsupported }

// KernelLimits is unavailable here.
func KernelLimits() (Limits, error) { return Limits{}, errUnsupported }

// Kernel is unavailable here.
type Kernel struct{}

// ProbeSem is unavailable here.
func (Kernel) ProbeSem(SemArray) (SemDetail, error) { return SemDetail{}, errUnsupported }

// StatSem is unavailable here.
func (Kernel) StatSem(int32) (SemArray, error) { return SemArray{}, errUnsupported }

// KernelSemArrays is unavailable here.
func KernelSemArrays() ([]SemArray, error) { return nil, errUnsupported }

func kernelSemArrays(int) ([]SemArray, error) { return nil, errUnsupported }

// RemoveSem is unavailable here.
func (Kernel) RemoveSem(int32) error { return errUnsupported }

func kernelSemProbed(int, func(SemArray) bool) ([]SemArray, []probed, error) {
	return nil, nil, errUnsupported
}
