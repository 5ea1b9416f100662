// Package hooks holds no code: its tests run the remediation handler's
// systemd start hooks (--before-start, --after-start) the way a unit runs
// them, around real Apache 2.4 starts and crashes, in private IPC, PID,
// mount and network namespaces: a crash loop beside another instance, a
// start concurrent with another's, the orphans of a KillMode=process unit,
// a lost record, and the event handler beside PHP-FPM and other www-data
// processes with the units' records.
package hooks
