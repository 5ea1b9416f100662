package check

import "time"

// sleepPastSlack separates events the classifier compares by time: it
// allows two seconds of clock granularity.
func sleepPastSlack() { time.Sleep(3 * time.Second) }
