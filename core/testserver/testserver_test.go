package testserver

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// TestServers starts both servers, talks to them, and restarts Redis
// on the same address.
func TestServers(t *testing.T) {
	r := StartRedis(t)
	if !r.ping() {
		t.Fatal("redis does not answer PING")
	}
	r.Stop()
	if r.ping() {
		t.Fatal("redis answers after Stop")
	}
	r.Start()
	if !r.ping() {
		t.Fatal("redis does not answer after restart")
	}
	p := StartPostgres(t)
	db, err := sql.Open("pgx", p.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT $1::int + 1", 41).Scan(&n); err != nil || n != 42 {
		t.Fatalf("query: %d %v", n, err)
	}
}
