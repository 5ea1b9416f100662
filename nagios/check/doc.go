// Package check is check_sysvipc: a monitoring-plugins style check of System
// V IPC usage against the kernel's limits, and of Apache's leaked semaphore
// arrays. Run parses arguments, gathers, evaluates and prints; the main
// package only exits with what Run returns.
package check
