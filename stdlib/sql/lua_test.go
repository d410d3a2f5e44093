package sql_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/testserver"
	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luatest"
	stdsql "github.com/moonpost/moonpost/stdlib/sql"
)

// schema is run on both databases; the Lua tests see the same data.
var schema = []string{
	`CREATE TABLE tenants (name TEXT PRIMARY KEY, rate TEXT, quota INTEGER, note TEXT)`,
	`INSERT INTO tenants VALUES ('acme', '500/h', 500, NULL), ('globex', '20/min', 20, 'trial')`,
}

func openDBs(t *testing.T) *stdsql.DBs { return openDBsB(t) }

func openDBsB(t testing.TB) *stdsql.DBs {
	t.Helper()
	pg := testserver.StartPostgres(t)
	dbs, err := stdsql.Open([]config.SQL{
		{Name: "lite", Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "t.db"), MaxOpen: 4, MaxIdle: 2,
			Timeout: config.Duration(time.Second)},
		{Name: "pg", Driver: "postgres", DSN: pg.DSN, MaxOpen: 4, MaxIdle: 2, Timeout: config.Duration(300 * time.Millisecond)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbs.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range []string{"lite", "pg"} {
		db, _ := dbs.Get(name)
		for _, s := range schema {
			if _, err := db.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %s: %v", name, s, err)
			}
		}
	}
	return dbs
}

// TestLua runs sql_test.lua against SQLite and a real PostgreSQL.
func TestLua(t *testing.T) {
	luatest.Run(t, ".", hooks.Config{SQL: openDBs(t)})
}

// TestQueryDeadline: a query slower than the database's timeout, or
// than the hook's deadline, is an error in about that time.
func TestQueryDeadline(t *testing.T) {
	dbs := openDBs(t)
	for _, c := range []struct {
		name     string
		deadline time.Duration
	}{{"db timeout 300ms", 10 * time.Second}, {"hook deadline 100ms", 100 * time.Millisecond}} {
		L := lua.NewState()
		L.PreloadModule("sql", stdsql.Loader(dbs))
		ctx, cancel := context.WithTimeout(context.Background(), c.deadline)
		L.SetContext(ctx)
		start := time.Now()
		err := L.DoString(`return require("sql").query("pg", "SELECT pg_sleep(5)")`)
		d := time.Since(start)
		cancel()
		L.Close()
		if err == nil || !strings.Contains(err.Error(), "sql pg") {
			t.Fatalf("%s: %v, want an sql error", c.name, err)
		}
		if d > 3*time.Second {
			t.Fatalf("%s: query took %v", c.name, d)
		}
	}
}
