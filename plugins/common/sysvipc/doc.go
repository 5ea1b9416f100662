// Package sysvipc inspects the System V IPC objects of the IPC namespace it
// runs in: what exists (/proc/sysvipc), how close each kernel limit is
// (/proc/sys/kernel and the *_INFO calls), and which semaphore arrays were
// leaked by an Apache that died without cleaning up.
//
// It follows prometheus/procfs: public FS methods open files under an
// injectable mount point, private parseX(io.Reader) functions parse them, so
// every parser is tested on committed fixtures without a kernel.
package sysvipc
