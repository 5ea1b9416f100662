package sysvipc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrJournalUnavailable means systemd's journal could not be read: no
// journalctl, no journal, or no systemd. Stop timeouts are then unknown.
var ErrJournalUnavailable = errors.New("journal unavailable")

// maxJournal bounds what is read of journalctl's output.
const maxJournal = 16 << 20

var (
	// "apache2.service: State 'stop-sigterm' timed out. Killing."
	stopTimedOut = regexp.MustCompile(`^(\S+): State '(?:stop-sigterm|stop-final-sigterm|final-sigterm|stop-post|stop)' timed out\. (?:Killing|Skipping SIGKILL)`)
	// "apache2.service: Killing process 1234 (apache2) with signal SIGKILL."
	killingProcess = regexp.MustCompile(`^(\S+): Killing process (\d+) \(([^)]*)\) with signal SIGKILL`)
	// "apache2.service: Main process exited, code=killed, status=9/KILL"
	mainKilled = regexp.MustCompile(`^(\S+): Main process exited, code=killed, status=9/KILL`)
)

// journalDeath reads one of systemd's own messages.
func journalDeath(msg string) (Death, bool) {
	if m := stopTimedOut.FindStringSubmatch(msg); m != nil {
		return Death{Cause: CauseStopTimeout, Unit: m[1]}, true
	}
	if m := killingProcess.FindStringSubmatch(msg); m != nil {
		pid, err := strconv.Atoi(m[2])
		if err != nil || pid <= 0 {
			return Death{}, false
		}
		return Death{Cause: CauseKilled, Unit: m[1], PID: pid, Comm: m[3]}, true
	}
	if m := mainKilled.FindStringSubmatch(msg); m != nil {
		return Death{Cause: CauseKilled, Unit: m[1]}, true
	}
	return Death{}, false
}

// journalEntry is the part of `journalctl --output=json` read here.
type journalEntry struct {
	Message  json.RawMessage `json:"MESSAGE"` // a string, or bytes as a number array when not UTF-8
	Realtime string          `json:"__REALTIME_TIMESTAMP"`
}

// parseJournal reads `journalctl --output=json` (one object a line),
// newest first when reversed, and keeps the stop timeouts and SIGKILLs
// systemd logged, oldest first. A stop timeout makes the unit's next
// SIGKILL lines part of it. A line that is not JSON (the last one, cut by
// the read's bound or its timeout) ends the reading: what came before is
// kept, and the cut is said.
func parseJournal(r io.Reader, reversed bool) ([]Death, error) {
	type entry struct {
		d    Death
		msg  string
		usec int64
	}
	var (
		entries []entry
		perr    error
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e journalEntry
		if err := json.Unmarshal(line, &e); err != nil {
			perr = fmt.Errorf("%w: journal line %d: %w", ErrFileParse, n, err)
			break
		}
		var msg string
		if err := json.Unmarshal(e.Message, &msg); err != nil {
			continue // binary or absent: not one of systemd's messages
		}
		d, ok := journalDeath(msg)
		if !ok {
			continue
		}
		usec, err := strconv.ParseInt(e.Realtime, 10, 64)
		if err != nil {
			perr = fmt.Errorf("%w: journal line %d: invalid __REALTIME_TIMESTAMP %q", ErrFileParse, n, e.Realtime)
			break
		}
		entries = append(entries, entry{d: d, msg: msg, usec: usec})
	}
	if err := sc.Err(); err != nil && perr == nil {
		perr = fmt.Errorf("%w: journal: %w", ErrFileParse, err)
	}
	if reversed {
		slices.Reverse(entries)
	}
	var out []Death
	timedOut := map[string]bool{}
	for _, e := range entries {
		d := e.d
		switch {
		case d.Cause == CauseStopTimeout:
			timedOut[d.Unit] = true
		case timedOut[d.Unit] && d.PID != 0:
			d.Cause = CauseStopTimeout
		default:
			delete(timedOut, d.Unit)
		}
		d.At, d.Line = time.UnixMicro(e.usec), quoteLine(e.msg)
		out = append(out, d)
	}
	return out, perr
}

// ReadJournal asks journalctl for systemd's own messages since a time.
// Without systemd's journal it fails with ErrJournalUnavailable.
func ReadJournal(since time.Time) ([]Death, error) {
	path, err := exec.LookPath("journalctl")
	if err != nil {
		return nil, fmt.Errorf("%w: no journalctl", ErrJournalUnavailable)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// Newest first: the bound keeps the recent lines, where a leak that
	// matters now is.
	cmd := exec.CommandContext(ctx, path, "--output=json", "--no-pager", "--quiet", "--reverse",
		"--since=@"+strconv.FormatInt(since.Unix(), 10), "_PID=1")
	cmd.WaitDelay = time.Second // a child holding the pipe is not waited for
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJournalUnavailable, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJournalUnavailable, err)
	}
	deaths, perr := parseJournal(io.LimitReader(out, maxJournal), true)
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if why := strings.TrimSpace(stderr.String()); why != "" && len(deaths) == 0 {
		// "No journal files were found." and the like.
		return nil, fmt.Errorf("%w: journalctl: %s", ErrJournalUnavailable, Printable(firstLine(why)))
	}
	if werr != nil && len(deaths) == 0 {
		return nil, fmt.Errorf("%w: journalctl: %w", ErrJournalUnavailable, werr)
	}
	// Cut short (the bound, the timeout): the lines read are kept, and the
	// reason is said.
	if perr == nil && werr != nil {
		perr = fmt.Errorf("journalctl: %w", werr)
	}
	return deaths, perr
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
