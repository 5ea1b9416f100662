package soak

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

var semidInMsg = regexp.MustCompile(`semid (\d+)`)

// logEvidence logs, for each live array a run saw removed, the audit
// lines that name it: which handler removed it and on what evidence.
func (s *soak) logEvidence() {
	s.vmu.Lock()
	msgs := s.liveMsgs
	s.vmu.Unlock()
	if len(msgs) == 0 {
		return
	}
	b, err := os.ReadFile(auditLog)
	if err != nil {
		return
	}
	for _, m := range msgs {
		id := semidInMsg.FindStringSubmatch(m)
		if id == nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, fmt.Sprintf(`"semid":%s,`, id[1])) {
				s.t.Logf("audit for semid %s: %.4000s", id[1], line)
			}
		}
	}
}
