package ipctest

// helperMode is what a re-executed test binary does (envHolder); its
// parameters come as arguments, so modes need no string parsing.
type helperMode string

const (
	// modeInheritCreator makes an array, later starts modeInheritChild
	// with it and exits.
	modeInheritCreator helperMode = "inherit-creator"
	// modeInheritChild uses the array it was given on request.
	modeInheritChild helperMode = "inherit-child"
)

// helperModes runs each mode with the process's arguments.
var helperModes = map[helperMode]func(args []string) error{
	modeInheritCreator: inheritCreator,
	modeInheritChild:   inheritChild,
}
