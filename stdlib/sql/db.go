package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"

	"github.com/moonpost/moonpost/core/config"
)

// MaxRows bounds the rows one query returns to a script.
const MaxRows = 10000

// maxStmts bounds the prepared statements kept per database; past it
// the cache is emptied (a script building query texts would otherwise
// grow it without end).
const maxStmts = 512

// drivers maps the configured driver to the database/sql driver name.
var drivers = map[string]string{"sqlite": "sqlite", "postgres": "pgx"}

// DB is one configured database.
type DB struct {
	Name    string
	timeout time.Duration
	db      *dbsql.DB

	mu    sync.Mutex
	stmts map[string]*dbsql.Stmt // by query text
}

// DBs are the configured databases by name; safe for concurrent use.
type DBs struct {
	byName map[string]*DB
}

// Open opens every configured database. Connections are made on first
// use, so a database that is down does not stop the daemon.
func Open(cfgs []config.SQL) (*DBs, error) {
	d := &DBs{byName: map[string]*DB{}}
	for _, c := range cfgs {
		drv, ok := drivers[c.Driver]
		if !ok {
			d.Close()
			return nil, fmt.Errorf("sql %s: unknown driver %q", c.Name, c.Driver)
		}
		db, err := dbsql.Open(drv, c.DSN)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("sql %s: %w", c.Name, err)
		}
		db.SetMaxOpenConns(c.MaxOpen)
		db.SetMaxIdleConns(c.MaxIdle)
		db.SetConnMaxLifetime(c.ConnMaxLifetime.D())
		timeout := c.Timeout.D()
		if timeout <= 0 {
			timeout = time.Second
		}
		d.byName[c.Name] = &DB{Name: c.Name, timeout: timeout, db: db, stmts: map[string]*dbsql.Stmt{}}
	}
	return d, nil
}

// Get returns the database called name.
func (d *DBs) Get(name string) (*DB, error) {
	if d != nil {
		if db, ok := d.byName[name]; ok {
			return db, nil
		}
	}
	return nil, fmt.Errorf("sql: no database %q configured", name)
}

// Close closes every database.
func (d *DBs) Close() error {
	if d == nil {
		return nil
	}
	var errs []error
	for _, db := range d.byName {
		errs = append(errs, db.db.Close())
	}
	return errors.Join(errs...)
}

// Rows is a query's result: column names and one value list per row
// (string, int64, float64, bool or nil).
type Rows struct {
	Columns []string
	Values  [][]any
}

// stmt returns the prepared statement for query, preparing it once.
func (db *DB) stmt(ctx context.Context, query string) (*dbsql.Stmt, error) {
	db.mu.Lock()
	st, ok := db.stmts[query]
	db.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := db.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if old, ok := db.stmts[query]; ok { // prepared meanwhile by another call
		st.Close()
		return old, nil
	}
	if len(db.stmts) >= maxStmts {
		for q, s := range db.stmts {
			s.Close()
			delete(db.stmts, q)
		}
	}
	db.stmts[query] = st
	return st, nil
}

func (db *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, db.timeout)
}

// Query runs a query and reads at most MaxRows rows.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	st, err := db.stmt(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sql %s: %w", db.Name, err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("sql %s: %w", db.Name, err)
	}
	defer rows.Close()
	out, err := readRows(rows)
	if err != nil {
		return nil, fmt.Errorf("sql %s: %w", db.Name, err)
	}
	return out, nil
}

func readRows(rows *dbsql.Rows) (*Rows, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := &Rows{Columns: cols}
	for rows.Next() {
		if len(out.Values) == MaxRows {
			return nil, fmt.Errorf("query returned more than %d rows; add a LIMIT", MaxRows)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			vals[i] = plain(v)
		}
		out.Values = append(out.Values, vals)
	}
	return out, rows.Err()
}

// plain reduces a driver value to what Lua can hold.
func plain(v any) any {
	switch v := v.(type) {
	case nil, string, int64, float64, bool:
		return v
	case []byte:
		return string(v)
	case int32:
		return int64(v)
	case int16:
		return int64(v)
	case float32:
		return float64(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// Exec runs a statement and returns the rows it affected.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	st, err := db.stmt(ctx, query)
	if err != nil {
		return 0, fmt.Errorf("sql %s: %w", db.Name, err)
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("sql %s: %w", db.Name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, nil // some drivers cannot tell; the statement ran
	}
	return n, nil
}
