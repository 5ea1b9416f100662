// Package safety holds no code: its tests are the remediation-safety
// suite. Each test is one scenario in which a past version removed a live
// mutex or killed a healthy process, run with real Apache 2.4 in private
// IPC, PID, mount and network namespaces, with the built handler called
// as Nagios calls it (and through the real sudo where the scenario is
// about the sudo path). A regression fails under the scenario's name.
package safety
