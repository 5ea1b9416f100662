package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ipcwatch/ipcwatch/plugins/common/ipctest"
)

// maxClockSteps bounds the clock steps of one run: each is a bind mount
// over /proc/stat, undone when the test ends.
const maxClockSteps = 6

// chaos draws the schedule: after a think time drawn from the seed, one
// action, weighted. Starts and the outage come most often, because the
// windows that matter are a start while the handler plans.
func (s *soak) chaos(ctx context.Context) {
	r := s.rng(2)
	steps := 0
	for sleep(ctx, between(r, 50*time.Millisecond, 600*time.Millisecond)) {
		in := s.instances[r.IntN(len(s.instances))]
		switch k := r.IntN(100); {
		case k < 30:
			s.start(in)
		case k < 45:
			s.kill(in, r)
		case k < 60:
			// The outage, then a slow start at once: the start-up
			// process makes its first arrays with no Apache and no
			// www-data process running, and sits in its pass-phrase
			// dialog while the handler plans.
			s.crashAll()
			s.killOrphans()
			s.stopNeighbours()
			s.fig.fault("SIGKILL every instance")
			s.start(s.slowStarter(r))
		case k < 64:
			s.outageSweep(r)
		case k < 68:
			s.graceful(in)
		case k < 71:
			s.killOrphans()
		case k < 74 && steps < maxClockSteps:
			steps++
			step := time.Duration(1+r.IntN(3600)) * time.Second
			if r.IntN(2) == 0 {
				step = -step
				s.fig.fault("clock step backward")
			} else {
				s.fig.fault("clock step forward")
			}
			s.makers.Lock()
			ipctest.ShiftBootTime(s.t, step)
			s.makers.Unlock()
		case k < 78:
			s.toggleFPM()
		case k < 81:
			s.toggleNginx()
		case k < 89:
			s.wwwDataJob(r)
		case k < 93:
			s.oomKill()
		}
	}
}

// recheckWindows is the schedule of scheduleRecheckWindows: the outage
// (every instance SIGKILLed), then at once a TLS start without the
// hooks, again and again, with a think time drawn from the seed between.
// Each start-up process makes its first arrays and sits in its
// pass-phrase dialog until the handler plans; answered then, it forks
// its master and exits while the plan's census reads /proc, and the
// master takes a pid that census has already read (answerInPlanCensus).
// The census's second listing passes over a pid it has read, so the
// plan sees no Apache at all.
func (s *soak) recheckWindows(ctx context.Context) {
	r := s.rng(2)
	for i := 0; ctx.Err() == nil; i++ {
		s.crashAll()
		s.fig.fault("SIGKILL every instance")
		s.start(s.instances[i%len(s.instances)])
		if !sleep(ctx, between(r, 0, 150*time.Millisecond)) {
			return
		}
	}
}

// outageSweep makes the outage provable (no Apache, no orphan, no
// www-data process), runs the handler as Nagios would, and wants every
// array gone: nothing but Apache makes arrays in the soak's namespace.
func (s *soak) outageSweep(r *rand.Rand) {
	s.crashAll()
	s.killOrphans()
	s.stopNeighbours()
	s.makers.Lock()
	defer s.makers.Unlock()
	s.fig.fault("outage sweep")
	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		o, code, took := s.handlerViaSudo()
		out = o
		if code == 1 {
			s.fig.add(&s.fig.handlerLocked, 1)
			time.Sleep(between(r, 10*time.Millisecond, 100*time.Millisecond))
			continue
		}
		s.fig.mu.Lock()
		s.fig.handlerTimes = append(s.fig.handlerTimes, took)
		s.fig.mu.Unlock()
		if code != 0 {
			s.violate(false, "handler in the outage exited %d: %s", code, out)
		}
		break
	}
	if left := semIDs(); len(left) > 0 {
		s.violate(false, "%d arrays outlived the handler in the outage: %s", len(left), out)
	}
}

// load requests pages from the running instances over loopback, bounded
// to a few requests a second per loop; TLS instances get TLS too.
func (s *soak) load(ctx context.Context) {
	r := s.rng(3)
	for sleep(ctx, between(r, 20*time.Millisecond, 150*time.Millisecond)) {
		in := s.instances[r.IntN(len(s.instances))]
		s.mu.Lock()
		up := in.running && !in.busy
		before := in.state()
		s.mu.Unlock()
		if !up {
			continue
		}
		var code int
		var err error
		if in.tls && r.IntN(2) == 0 {
			code, err = in.ap.GetTLS("/index.html")
		} else {
			code, err = in.ap.Get("/index.html")
		}
		if err == nil && code == 200 {
			s.fig.add(&s.fig.served, 1)
			continue
		}
		s.mu.Lock()
		steady := in.state() == before
		s.mu.Unlock()
		s.fig.requestFailed(steady, failure(code, err))
	}
}

// failure is why a request failed, without its addresses and ports: the
// error's last clause, or the status.
func failure(code int, err error) string {
	if err == nil {
		return fmt.Sprintf("status %d", code)
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// finish is the closing check: the outage made provable, the handler
// run, and nothing left.
func (s *soak) finish() {
	s.outageSweep(s.rng(4))
}

// stopAll stops every process the run started.
func (s *soak) stopAll() {
	s.crashAll()
	s.killOrphans()
	s.stopNeighbours()
	s.mu.Lock()
	clear(s.orphans)
	s.mu.Unlock()
}

// slowStarter draws an instance with a pass-phrase dialog.
func (s *soak) slowStarter(r *rand.Rand) *instance {
	var slow []*instance
	for _, in := range s.instances {
		if in.tls {
			slow = append(slow, in)
		}
	}
	return slow[r.IntN(len(slow))]
}
