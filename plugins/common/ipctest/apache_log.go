package ipctest

import (
	"regexp"
	"strings"
)

var (
	// logSevere is the [module:level] tag of a warn-or-worse line; a
	// healthy start at LogLevel info has mutex lines only below it.
	logSevere = regexp.MustCompile(`^\[[^\]]*\] \[[^\]:]*:(emerg|alert|crit|error|warn)\] `)
	// logTagged is any [time] [module:level] line.
	logTagged = regexp.MustCompile(`^\[[^\]]*\] \[[^\]:]*:[a-z0-9]+\] `)
	// mentionsLock: "mutex" also inside apr_proc_mutex_lock and the like;
	// "lock" only as a word (not block, clock).
	mentionsLock = regexp.MustCompile(`(?i)mutex|\block\b`)
	// failureWords judge the lines Apache writes untagged, to stderr
	// before its error log is open.
	failureWords = regexp.MustCompile(`(?i)fail|couldn't|can't|cannot|could not|unable|error`)
)

// MutexErrors returns the error-log lines that report a mutex or lock
// failure, e.g.
//
//	[core:emerg] (28)No space left on device: AH00023: Couldn't create the ssl-cache mutex
//	[mpm_prefork:emerg] (43)Identifier removed: AH00144: couldn't grab the accept mutex
//	[mpm_prefork:emerg] (22)Invalid argument: AH00146: couldn't release the accept mutex
//	[ssl:warn] (22)Invalid argument: AH02026: Failed to acquire SSL session cache lock
//
// and nothing for a healthy start.
func (a *Apache) MutexErrors() []string {
	var found []string
	for _, line := range strings.Split(a.Log(), "\n") {
		if !mentionsLock.MatchString(line) {
			continue
		}
		if logSevere.MatchString(line) || !logTagged.MatchString(line) && failureWords.MatchString(line) {
			found = append(found, line)
		}
	}
	return found
}
