package lookup_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/testserver"
	core "github.com/moonpost/moonpost/core/throttle"
	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luatest"
	stdsql "github.com/moonpost/moonpost/stdlib/sql"
)

// TestLuaRemote runs testdata/remote against a real Redis and SQLite.
func TestLuaRemote(t *testing.T) {
	srv := testserver.StartRedis(t)
	rc := core.NewRedisClient(config.Redis{Addresses: []string{srv.Addr}})
	defer rc.Close()
	dbs, err := stdsql.Open([]config.SQL{{Name: "tenants", Driver: "sqlite",
		DSN: filepath.Join(t.TempDir(), "t.db"), MaxOpen: 2, MaxIdle: 1, Timeout: config.Duration(time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	defer dbs.Close()
	db, _ := dbs.Get("tenants")
	ctx := context.Background()
	for _, s := range []string{
		`CREATE TABLE domains (domain TEXT PRIMARY KEY, tenant TEXT NOT NULL, plan TEXT)`,
		`INSERT INTO domains VALUES ('example.com', 'acme', 'pro'), ('example.org', 'globex', NULL)`,
	} {
		if _, err := db.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	luatest.Run(t, "testdata/remote", hooks.Config{Redis: rc, SQL: dbs})
}
