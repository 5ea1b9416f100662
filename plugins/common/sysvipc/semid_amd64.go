//go:build linux

package sysvipc

import "golang.org/x/sys/unix"

// semidDS is x86_64's struct semid64_ds (arch/x86/include/uapi/asm/sembuf.h),
// which pads after each time field, unlike the generic layout.
type semidDS struct {
	Perm  unix.SysvIpcPerm
	Otime int64
	_     uint64
	Ctime int64
	_     uint64
	Nsems uint64
	_     uint64
	_     uint64
}
