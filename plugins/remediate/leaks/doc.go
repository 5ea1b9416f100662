// Package leaks is the Remediator that removes semaphore arrays leaked by
// a dead Apache: stale means the core classifier's stale, nothing weaker,
// and every array is read again right before it is removed. The plugin
// binary (plugins/remediate/ipcwatch-plugin-apache) only serves it.
package leaks
