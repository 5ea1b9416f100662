//go:build linux && (arm64 || riscv64 || loong64)

package sysvipc

import "golang.org/x/sys/unix"

// semidDS is the generic 64-bit struct semid64_ds
// (include/uapi/asm-generic/sembuf.h).
type semidDS struct {
	Perm  unix.SysvIpcPerm
	Otime int64
	Ctime int64
	Nsems uint64
	_     uint64
	_     uint64
}
