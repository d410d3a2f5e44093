package lookup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	stdsql "github.com/moonpost/moonpost/stdlib/sql"
)

// WithShared gives the registry the daemon's Redis client and SQL
// databases for lookup.redis and lookup.sql tables; either may be nil.
func (r *Registry) WithShared(rc goredis.UniversalClient, dbs *stdsql.DBs) *Registry {
	r.redis, r.sql = rc, dbs
	return r
}

// RemoteOptions describe a table backed by Redis or SQL. Tables with
// the same options are one shared table, with one cache.
type RemoteOptions struct {
	Kind string // "redis" or "sql"
	// redis: the key is Prefix + the looked-up key; with Field set the
	// value is HGET key Field, else GET key.
	Prefix, Field string
	// sql: the configured database and a query with one placeholder for
	// the looked-up key. One column gives that value; several a row.
	DB, Query string
	// TTL keeps found values, NegativeTTL "not found" answers; 0 does
	// not cache. MaxEntries bounds the cache.
	TTL, NegativeTTL time.Duration
	MaxEntries       int
}

// Remote is a lookup table answered by Redis or SQL, with an in-process
// cache shared by every Lua state. Errors are never cached.
type Remote struct {
	o     RemoteOptions
	fetch func(ctx context.Context, key string) (any, bool, error)
	now   func() time.Time

	mu    sync.RWMutex
	cache map[string]entry
}

type entry struct {
	val     any // string, or Row for a several-column SQL answer
	found   bool
	expires time.Time
}

// Row is a several-column SQL answer.
type Row struct {
	Columns []string
	Values  []any
}

// OpenRemote returns the shared table for o.
func (r *Registry) OpenRemote(o RemoteOptions) (*Remote, error) {
	fetch, err := r.fetcher(o)
	if err != nil {
		return nil, err
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10000
	}
	key := fmt.Sprintf("%s\x00%#v", o.Kind, o)
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.remote[key]; ok {
		return t, nil
	}
	t := &Remote{o: o, fetch: fetch, now: r.now, cache: map[string]entry{}}
	if r.remote == nil {
		r.remote = map[string]*Remote{}
	}
	r.remote[key] = t
	return t, nil
}

func (r *Registry) fetcher(o RemoteOptions) (func(context.Context, string) (any, bool, error), error) {
	switch o.Kind {
	case "redis":
		if r.redis == nil {
			return nil, errors.New("lookup.redis: no [redis] addresses configured")
		}
		return redisFetch(r.redis, o.Prefix, o.Field), nil
	case "sql":
		db, err := r.sql.Get(o.DB)
		if err != nil {
			return nil, fmt.Errorf("lookup.sql: %w", err)
		}
		if o.Query == "" {
			return nil, errors.New("lookup.sql: query is required")
		}
		return sqlFetch(db, o.Query), nil
	}
	return nil, fmt.Errorf("lookup: unknown table kind %q", o.Kind)
}

func redisFetch(c goredis.UniversalClient, prefix, field string) func(context.Context, string) (any, bool, error) {
	return func(ctx context.Context, key string) (any, bool, error) {
		var cmd *goredis.StringCmd
		if field != "" {
			cmd = c.HGet(ctx, prefix+key, field)
		} else {
			cmd = c.Get(ctx, prefix+key)
		}
		v, err := cmd.Result()
		if errors.Is(err, goredis.Nil) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("lookup.redis: %w", err)
		}
		return v, true, nil
	}
}

func sqlFetch(db *stdsql.DB, query string) func(context.Context, string) (any, bool, error) {
	return func(ctx context.Context, key string) (any, bool, error) {
		rows, err := db.Query(ctx, query, key)
		if err != nil {
			return nil, false, fmt.Errorf("lookup.sql: %w", err)
		}
		if len(rows.Values) == 0 {
			return nil, false, nil
		}
		if len(rows.Columns) == 1 {
			if rows.Values[0][0] == nil {
				return nil, false, nil
			}
			return rows.Values[0][0], true, nil
		}
		return Row{Columns: rows.Columns, Values: rows.Values[0]}, true, nil
	}
}

// Get answers key from the cache or, when absent or expired, from the
// backend.
func (t *Remote) Get(ctx context.Context, key string) (any, bool, error) {
	now := t.now()
	t.mu.RLock()
	e, ok := t.cache[key]
	t.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.val, e.found, nil
	}
	val, found, err := t.fetch(ctx, key)
	if err != nil {
		return nil, false, err
	}
	ttl := t.o.TTL
	if !found {
		ttl = t.o.NegativeTTL
	}
	if ttl > 0 {
		t.store(key, entry{val: val, found: found, expires: now.Add(ttl)}, now)
	}
	return val, found, nil
}

// store adds an entry; a full cache first drops what expired and, if
// still full, everything (simple, and a refill costs one query a key).
func (t *Remote) store(key string, e entry, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.cache) >= t.o.MaxEntries {
		for k, old := range t.cache {
			if !now.Before(old.expires) {
				delete(t.cache, k)
			}
		}
		if len(t.cache) >= t.o.MaxEntries {
			clear(t.cache)
		}
	}
	t.cache[key] = e
}
