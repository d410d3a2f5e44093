package hooks

import (
	"sort"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// A circuit breaker per event and generation. A hook that keeps failing
// (a Lua error, a timeout, a bad return value) costs each call its whole
// deadline of CPU and a log line; under a few clients that starves the
// rest of the daemon. After BreakerThreshold failures in a row the
// breaker opens: the event's calls fail at once without running Lua
// (or, with BreakerFallback "skip", pass as if no handler decided). After
// BreakerCooldown one call is let through as a probe (half-open): if it
// succeeds the breaker closes, if it fails it opens for another
// cooldown. A new generation starts with closed breakers, so fixing the
// script is the way out too.
//
// Consecutive failures, not a ratio: a handler that fails for some
// inputs only (one client's odd address) and works for the others keeps
// the event closed, and each bad call stays bounded by the deadline.

type breakerState int

const (
	breakerClosed breakerState = iota
	breakerOpen
	breakerHalfOpen
)

func (s breakerState) String() string {
	return [...]string{"closed", "open", "half-open"}[s]
}

// breaker is the state machine of one event in one generation.
type breaker struct {
	threshold int           // failures in a row that open it; 0 never
	cooldown  time.Duration // open → half-open

	mu       sync.Mutex
	state    breakerState
	failures int       // in a row, while closed; the count that opened it after
	since    time.Time // of the last state change
	probing  bool      // the half-open probe is in flight
	log      logLimiter
}

func newBreaker(threshold int, cooldown, logEvery time.Duration) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, log: logLimiter{every: logEvery}}
}

// allow says whether a call may run its handlers now; probe marks the
// one call let through to test a half-open breaker, which must report
// back with done like any other.
func (b *breaker) allow(now time.Time) (ok, probe bool) {
	if b == nil || b.threshold <= 0 {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case breakerClosed:
		return true, false
	case breakerOpen:
		if now.Sub(b.since) < b.cooldown {
			return false, false
		}
		b.state, b.since = breakerHalfOpen, now
	}
	if b.probing {
		return false, false
	}
	b.probing = true
	return true, true
}

// done records how a call allow let through ended and reports a state
// change for the log: "open" or "closed", "" for none.
func (b *breaker) done(now time.Time, probe, failed bool) (change string) {
	if b == nil || b.threshold <= 0 {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
		if failed {
			b.state, b.since = breakerOpen, now
			return "open"
		}
		b.state, b.since, b.failures = breakerClosed, now, 0
		return "closed"
	}
	if b.state != breakerClosed {
		return "" // let in before it opened; the probe decides
	}
	if !failed {
		b.failures = 0
		return ""
	}
	if b.failures++; b.failures >= b.threshold {
		b.state, b.since = breakerOpen, now
		return "open"
	}
	return ""
}

// BreakerStatus is one event's breaker, as status and the REPL show it.
type BreakerStatus struct {
	Event    string    `json:"event"`
	State    string    `json:"state"`    // "closed", "open", "half-open"
	Failures int       `json:"failures"` // in a row so far, or that opened it
	Since    time.Time `json:"since,omitzero"`
}

func (b *breaker) status(event string) BreakerStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BreakerStatus{Event: event, State: b.state.String(), Failures: b.failures, Since: b.since}
}

// Breakers reports the breakers of the live generation, by event name.
func (e *Engine) Breakers() []BreakerStatus {
	g := e.cur.Load()
	out := make([]BreakerStatus, 0, len(g.breakers))
	for ev, b := range g.breakers {
		out = append(out, b.status(ev))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Event < out[j].Event })
	return out
}

// newBreakers makes a closed breaker for each event that has handlers.
func (e *Engine) newBreakers(counts map[string]int) map[string]*breaker {
	m := make(map[string]*breaker, len(counts))
	for ev := range counts {
		m[ev] = newBreaker(e.cfg.BreakerThreshold, e.cfg.BreakerCooldown, e.cfg.ErrorLogInterval)
	}
	return m
}

// logLimiter lets one log line through per interval and counts the rest.
type logLimiter struct {
	every      time.Duration
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow says whether to log now and, if so, how many lines were held
// back since the last one.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return false, 0
	}
	l.last, suppressed, l.suppressed = now, l.suppressed, 0
	return true, suppressed
}

// clock is the engine's time; the standalone engine has none set.
func (e *Engine) clock() time.Time {
	if e.now == nil {
		return time.Now()
	}
	return e.now()
}

// shortCircuit answers a call its open breaker does not let run: the
// configured fallback, logged (rate-limited) like a failure.
// skippedByBreaker is the outcome of a call an open breaker skipped.
const skippedByBreaker = "skipped: circuit breaker open"

func (e *Engine) shortCircuit(c *call, gen int) error {
	if e.cfg.BreakerFallback == FallbackSkip {
		c.outcome = skippedByBreaker
		return nil
	}
	return e.fail(c, gen, "(breaker)", "circuit breaker open after repeated failures; handlers not run")
}

// settle reports a call's outcome to its breaker and logs a change of
// state, which happens at most once per cooldown.
func (e *Engine) settle(c *call, gen int, probe, failed bool) {
	switch c.br.done(e.clock(), probe, failed) {
	case "open":
		e.log.Warn("circuit breaker open: handlers not run until a probe call succeeds",
			"event", c.event, "generation", gen, "failures", c.br.status(c.event).Failures,
			"cooldown", e.cfg.BreakerCooldown)
	case "closed":
		e.log.Info("circuit breaker closed: probe call succeeded", "event", c.event, "generation", gen)
	}
}

// BreakerStates maps each event of the live generation to its breaker's
// state, for moonpost status.
func (e *Engine) BreakerStates() map[string]string {
	m := map[string]string{}
	for _, b := range e.Breakers() {
		m[b.Event] = b.State
	}
	return m
}

// luaBreakers is hooks.breakers() in the REPL: {rcpt = {state = "open",
// failures = 5, since = <unix time>}, ...}.
func (e *Engine) luaBreakers(L *lua.LState) int {
	t := L.NewTable()
	for _, b := range e.Breakers() {
		row := L.NewTable()
		row.RawSetString("state", lua.LString(b.State))
		row.RawSetString("failures", lua.LNumber(b.Failures))
		if !b.Since.IsZero() {
			row.RawSetString("since", lua.LNumber(b.Since.Unix()))
		}
		t.RawSetString(b.Event, row)
	}
	L.Push(t)
	return 1
}
