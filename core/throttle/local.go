package throttle

import (
	"errors"
	"sync"
	"time"
)

// ErrTooManyKeys is returned when the node-local table is full of keys
// that are all still limited.
var ErrTooManyKeys = errors.New("throttle: too many node-local keys")

// local is the in-memory GCRA state of one node.
type local struct {
	max int // bound on keys kept
	mu  sync.Mutex
	tat map[string]time.Time // theoretical arrival time per key
}

func newLocal(max int) *local {
	return &local{max: max, tat: map[string]time.Time{}}
}

func (l *local) check(key string, r Rate, now time.Time) (Result, error) {
	return l.decide(key, r, now, false)
}

// decide is check, or with peek only the answer: nothing is counted.
func (l *local) decide(key string, r Rate, now time.Time, peek bool) (Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, seen := l.tat[key]
	if peek {
		_, ok, retry := gcra(tat, now, r)
		return Result{Allowed: ok, RetryAfter: retry}, nil
	}
	if !seen && len(l.tat) >= l.max {
		l.sweep(now)
		if len(l.tat) >= l.max {
			return Result{}, ErrTooManyKeys
		}
	}
	newTAT, ok, retry := gcra(tat, now, r)
	if ok {
		l.tat[key] = newTAT
	}
	return Result{Allowed: ok, RetryAfter: retry}, nil
}

// sweep drops keys whose TAT has passed: their bucket is full again,
// which is what an absent key means too.
func (l *local) sweep(now time.Time) {
	for k, tat := range l.tat {
		if !tat.After(now) {
			delete(l.tat, k)
		}
	}
}
