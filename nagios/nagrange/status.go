package nagrange

// State is a plugin's result, as its exit code.
type State int

// The four states of the monitoring-plugins guidelines.
const (
	OK       State = 0
	Warning  State = 1
	Critical State = 2
	Unknown  State = 3
)

// String is the word the first line of a plugin's output carries.
func (s State) String() string {
	switch s {
	case OK:
		return "OK"
	case Warning:
		return "WARNING"
	case Critical:
		return "CRITICAL"
	}
	return "UNKNOWN"
}

// Status mirrors get_status in utils_base.c: critical is checked before
// warning, and an absent (zero) range never alerts. Ranges must already be
// resolved.
func Status(v float64, warn, crit Range) State {
	switch {
	case crit.Alert(v):
		return Critical
	case warn.Alert(v):
		return Warning
	}
	return OK
}

// Worse returns the worse of two threshold states (OK < WARNING <
// CRITICAL). UNKNOWN never comes from thresholds: a check that could not
// read its data stops with UNKNOWN before it compares anything.
func Worse(a, b State) State {
	if b > a {
		return b
	}
	return a
}
