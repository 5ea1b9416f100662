package ipctest

// helperMode is what a re-executed test binary does (envHolder); its
// parameters come as arguments, so modes need no string parsing beyond
// one number each.
type helperMode string

const (
	// modeHold makes an Apache-style array, prints its id and waits.
	modeHold helperMode = "hold"
	// modeHoldLocked does the same and keeps it locked.
	modeHoldLocked helperMode = "hold-locked"
	// modeFill makes N arrays (argument) and exits: leaked arrays.
	modeFill helperMode = "fill"
	// modeChildNamespace sets kernel.sem (four arguments), fills it with
	// leaked arrays (count, uid) and waits.
	modeChildNamespace helperMode = "child-namespace"
	// modeInheritCreator makes an array, later starts modeInheritChild
	// with it and exits.
	modeInheritCreator helperMode = "inherit-creator"
	// modeInheritChild uses the array it was given on request.
	modeInheritChild helperMode = "inherit-child"
)

// helperModes runs each mode with the process's arguments.
var helperModes = map[helperMode]func(args []string) error{
	modeHold:           func([]string) error { return hold(false) },
	modeHoldLocked:     func([]string) error { return hold(true) },
	modeFill:           fill,
	modeChildNamespace: childNamespace,
	modeInheritCreator: inheritCreator,
	modeInheritChild:   inheritChild,
}
