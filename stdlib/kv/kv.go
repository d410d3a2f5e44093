package kv

import (
	"errors"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Defaults for zero Limits.
const (
	DefaultMaxKeys  = 100000
	DefaultMaxBytes = 64 << 20
	DefaultMaxValue = 64 << 10
	maxKeyLen       = 1024
	// entryOverhead is what one entry costs besides its key and value
	// text (map slot, entry, string headers), counted against MaxBytes
	// so that a million tiny keys are not free.
	entryOverhead = 64
	// sweepOnFull is how many entries a set that finds the store full
	// may look at to make room: bounded, so a full store of live keys
	// costs each refused set microseconds, not a walk of the map.
	sweepOnFull = 256
)

// ErrFull is returned by Set and Incr when the store has no room.
var ErrFull = errors.New("kv: store full")

// Limits bound a Store; zero fields take the defaults.
type Limits struct {
	MaxKeys  int // number of keys (100000)
	MaxBytes int // keys, values and a fixed overhead per entry (64 MiB)
	MaxValue int // one string value (64 KiB)
}

type entry struct {
	val     lua.LValue // LString, LNumber or LBool: immutable, safe to share between states
	expires time.Time  // zero: never
}

// Store is the shared map. The zero value is not ready; use New.
type Store struct {
	mu     sync.Mutex
	m      map[string]entry
	bytes  int // accounted size of m, see size
	limits Limits
	now    func() time.Time
}

// New makes a store; nil now is time.Now.
func New(l Limits, now func() time.Time) *Store {
	if l.MaxKeys <= 0 {
		l.MaxKeys = DefaultMaxKeys
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxValue <= 0 {
		l.MaxValue = DefaultMaxValue
	}
	if now == nil {
		now = time.Now
	}
	return &Store{m: map[string]entry{}, limits: l, now: now}
}

// size is what an entry counts against MaxBytes.
func size(k string, v lua.LValue) int {
	n := len(k) + entryOverhead
	if s, ok := v.(lua.LString); ok {
		n += len(s)
	}
	return n
}

// Get returns the live value for k, or LNil. An expired entry found
// here is dropped.
func (s *Store) Get(k string) lua.LValue {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok {
		return lua.LNil
	}
	if s.expired(e, s.now()) {
		s.drop(k, e)
		return lua.LNil
	}
	return e.val
}

// Set stores v (LNil deletes) for ttl (0: no expiry).
func (s *Store) Set(k string, v lua.LValue, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == lua.LNil {
		if e, ok := s.m[k]; ok {
			s.drop(k, e)
		}
		return nil
	}
	return s.put(k, v, ttl)
}

// Incr adds n to the number at k (a missing or expired key counts as
// 0) and returns the new value. The TTL is set only when the key is
// created, so a window started by the first hit is not stretched by the
// following ones.
func (s *Store) Incr(k string, n float64, ttl time.Duration) (float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || s.expired(e, s.now()) {
		return n, s.put(k, lua.LNumber(n), ttl)
	}
	cur, isNum := e.val.(lua.LNumber)
	if !isNum {
		return 0, errors.New("kv: value is not a number")
	}
	e.val = cur + lua.LNumber(n)
	s.m[k] = e
	return float64(e.val.(lua.LNumber)), nil
}

// Len reports the number of keys, expired ones included until dropped.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Bytes reports the accounted size of the store, the figure MaxBytes
// bounds.
func (s *Store) Bytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

func (s *Store) expired(e entry, now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

func (s *Store) drop(k string, e entry) {
	delete(s.m, k)
	s.bytes -= size(k, e.val)
}

func (s *Store) put(k string, v lua.LValue, ttl time.Duration) error {
	if len(k) > maxKeyLen {
		return errors.New("kv: key too long")
	}
	if str, ok := v.(lua.LString); ok && len(str) > s.limits.MaxValue {
		return errors.New("kv: value too long")
	}
	old, exists := s.m[k]
	grow := size(k, v)
	if exists {
		grow -= size(k, old.val)
	}
	if !s.fits(exists, grow) {
		s.sweepLocked(sweepOnFull)
		if old, exists = s.m[k]; exists { // the sweep may have dropped it
			grow = size(k, v) - size(k, old.val)
		} else {
			grow = size(k, v)
		}
		if !s.fits(exists, grow) {
			return ErrFull
		}
	}
	var exp time.Time
	if ttl > 0 {
		exp = s.now().Add(ttl)
	}
	s.m[k] = entry{val: v, expires: exp}
	s.bytes += grow
	return nil
}

// fits says whether an entry that exists (or not) can grow by grow bytes.
func (s *Store) fits(exists bool, grow int) bool {
	if !exists && len(s.m) >= s.limits.MaxKeys {
		return false
	}
	return grow <= 0 || s.bytes+grow <= s.limits.MaxBytes
}

// Sweep drops expired entries among at most max of them and reports how
// many it dropped. Go's map iteration starts at a random place, so
// repeated bounded sweeps reach the whole map.
func (s *Store) Sweep(max int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sweepLocked(max)
}

func (s *Store) sweepLocked(max int) int {
	now, seen, dropped := s.now(), 0, 0
	for k, e := range s.m {
		if seen++; seen > max {
			break
		}
		if s.expired(e, now) {
			s.drop(k, e)
			dropped++
		}
	}
	return dropped
}

// SweepEvery is the sweeper's interval and SweepBatch how many entries
// one pass looks at: a store of the default size is walked about once a
// minute, each pass holding the lock for well under a millisecond.
const (
	SweepEvery = time.Second
	SweepBatch = 2048
)

// Run sweeps expired entries every SweepEvery, SweepBatch at a time,
// until stop is closed. Expired entries are also dropped when they are
// read and when a set needs room.
func (s *Store) Run(stop <-chan struct{}) {
	t := time.NewTicker(SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.Sweep(SweepBatch)
		}
	}
}
