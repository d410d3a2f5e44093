package throttle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// LocalPrefix marks keys that are never shared.
const LocalPrefix = "local:"

// LogEvery bounds how often a Redis failure is logged.
const LogEvery = 10 * time.Second

// ErrUnavailable wraps the Redis error of a fail-closed check.
var ErrUnavailable = errors.New("throttle: shared limit unavailable")

// Result is the decision of one check.
type Result struct {
	Allowed    bool
	RetryAfter time.Duration // when not allowed: how long until one event passes
	Shared     bool          // decided by Redis, not by this node
}

// Options configure a Limiter; zero values take the defaults noted.
type Options struct {
	Redis    redis.UniversalClient // nil: every key node-local
	FailOpen bool                  // on a Redis failure, decide with the local limit
	Timeout  time.Duration         // bound on one Redis call (250ms)
	MaxLocal int                   // node-local keys kept (100000)
	Logger   *slog.Logger          // nil: slog.Default()
	Now      func() time.Time      // node-local clock; nil: time.Now
}

// Limiter checks rates; it is safe for concurrent use.
type Limiter struct {
	o     Options
	local *local
	log   *slog.Logger

	mu         sync.Mutex
	lastLog    time.Time // last failure logged
	suppressed int       // failures since, not logged
}

// New returns a Limiter.
func New(o Options) *Limiter {
	if o.Timeout <= 0 {
		o.Timeout = 250 * time.Millisecond
	}
	if o.MaxLocal <= 0 {
		o.MaxLocal = 100000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Limiter{o: o, local: newLocal(o.MaxLocal), log: o.Logger.With("component", "throttle")}
}

// Shared reports whether keys without the local: prefix go to Redis.
func (l *Limiter) Shared() bool { return l.o.Redis != nil }

// Check counts one event for key against r. An error means no decision
// (fail closed, or the local table is full): callers answer with a
// temporary failure.
func (l *Limiter) Check(ctx context.Context, key string, r Rate) (Result, error) {
	return l.decide(ctx, key, r, false)
}

// Peek answers as Check would, without counting the event: whether one
// more would pass now. A limit on failures uses it to refuse before an
// attempt and Check to count each failure.
func (l *Limiter) Peek(ctx context.Context, key string, r Rate) (Result, error) {
	return l.decide(ctx, key, r, true)
}

func (l *Limiter) decide(ctx context.Context, key string, r Rate, peek bool) (Result, error) {
	if key == "" {
		return Result{}, errors.New("throttle: empty key")
	}
	if l.o.Redis == nil || strings.HasPrefix(key, LocalPrefix) {
		return l.local.decide(key, r, l.o.Now(), peek)
	}
	ctx, cancel := context.WithTimeout(ctx, l.o.Timeout)
	defer cancel()
	res, err := checkRedis(ctx, l.o.Redis, key, r, peek)
	if err == nil {
		return res, nil
	}
	l.logFailure(key, err)
	if l.o.FailOpen {
		return l.local.decide(key, r, l.o.Now(), peek)
	}
	return Result{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// logFailure warns at most once per LogEvery, counting the rest.
func (l *Limiter) logFailure(key string, err error) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.lastLog) < LogEvery {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.lastLog, l.suppressed = now, 0
	l.mu.Unlock()
	mode := "fail_closed: temporary error"
	if l.o.FailOpen {
		mode = "fail_open: node-local limit"
	}
	l.log.Warn("redis throttle check failed", "key", key, "err", err, "mode", mode, "failures_not_logged", n)
}
