package kv

import (
	"errors"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Defaults for a zero Store.
const (
	DefaultMaxKeys  = 100000
	DefaultMaxValue = 64 << 10
	maxKeyLen       = 1024
)

// ErrFull is returned by Set and Incr when the store has no room.
var ErrFull = errors.New("kv: store full")

type entry struct {
	val     lua.LValue // LString, LNumber or LBool: immutable, safe to share between states
	expires time.Time  // zero: never
}

// Store is the shared map. The zero value is not ready; use New.
type Store struct {
	mu       sync.Mutex
	m        map[string]entry
	maxKeys  int
	maxValue int
	now      func() time.Time
}

// New makes a store; zero limits take the defaults, nil now is time.Now.
func New(maxKeys, maxValue int, now func() time.Time) *Store {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if maxValue <= 0 {
		maxValue = DefaultMaxValue
	}
	if now == nil {
		now = time.Now
	}
	return &Store{m: map[string]entry{}, maxKeys: maxKeys, maxValue: maxValue, now: now}
}

// Get returns the live value for k, or LNil.
func (s *Store) Get(k string) lua.LValue {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || s.expired(e) {
		return lua.LNil
	}
	return e.val
}

// Set stores v (LNil deletes) for ttl (0: no expiry).
func (s *Store) Set(k string, v lua.LValue, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == lua.LNil {
		delete(s.m, k)
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
	if !ok || s.expired(e) {
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

// Len reports the number of keys, expired ones included until swept.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *Store) expired(e entry) bool {
	return !e.expires.IsZero() && !s.now().Before(e.expires)
}

func (s *Store) put(k string, v lua.LValue, ttl time.Duration) error {
	if len(k) > maxKeyLen {
		return errors.New("kv: key too long")
	}
	if str, ok := v.(lua.LString); ok && len(str) > s.maxValue {
		return errors.New("kv: value too long")
	}
	if _, exists := s.m[k]; !exists && len(s.m) >= s.maxKeys {
		s.sweep()
		if len(s.m) >= s.maxKeys {
			return ErrFull
		}
	}
	var exp time.Time
	if ttl > 0 {
		exp = s.now().Add(ttl)
	}
	s.m[k] = entry{val: v, expires: exp}
	return nil
}

// sweep drops expired keys; called only when the store is full, so its
// O(n) cost is paid rarely.
func (s *Store) sweep() {
	for k, e := range s.m {
		if s.expired(e) {
			delete(s.m, k)
		}
	}
}
