package cluster

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/testserver"
	stdsql "github.com/moonpost/moonpost/stdlib/sql"
)

func TestMain(m *testing.M) { e2e.Main(m) }

// makeDB runs tenants.sql into a database, as the README's sqlite3
// command does.
func makeDB(t *testing.T, driver, dsn string) {
	t.Helper()
	src, err := os.ReadFile("tenants.sql")
	if err != nil {
		t.Fatal(err)
	}
	dbs, err := stdsql.Open([]config.SQL{{Name: "t", Driver: driver, DSN: dsn, MaxOpen: 1, MaxIdle: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer dbs.Close()
	db, _ := dbs.Get("t")
	for _, stmt := range strings.Split(string(src), ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.Exec(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// TestHostingCluster runs two nodes of the example on one Redis: the
// tenants come from SQLite, globex's plan (5/min) and acme's override in
// Redis (3/min) hold across both nodes, unknown domains are refused,
// and what was accepted reaches the smarthost.
func TestHostingCluster(t *testing.T) {
	runCluster(t, nil, func(d *e2e.Daemon) { makeDB(t, "sqlite", d.Dir+"/tenants.db") })
}

// TestHostingClusterPostgres is the same with the tenant tables in one
// PostgreSQL both nodes share: the scripts' $1 placeholders suit both.
func TestHostingClusterPostgres(t *testing.T) {
	pg := testserver.StartPostgres(t)
	makeDB(t, "postgres", pg.DSN)
	runCluster(t, []string{`driver = "sqlite"`, `driver = "postgres"`,
		`dsn = "file:tenants.db?mode=ro"`, fmt.Sprintf("dsn = %q", pg.DSN)}, func(*e2e.Daemon) {})
}

func runCluster(t *testing.T, repl []string, prepare func(*e2e.Daemon)) {
	redis := testserver.StartRedis(t)
	sink := e2e.NewSink(t, false)
	var nodes []*e2e.Daemon
	for i := 0; i < 2; i++ {
		d := e2e.Setup(t, ".", append([]string{"127.0.0.1:6379", redis.Addr,
			"]:2626", "]:" + sink.Addr[strings.LastIndexByte(sink.Addr, ':')+1:],
			"out1.hosting.test", fmt.Sprintf("out%d.hosting.test", i+1)}, repl...)...)
		prepare(d)
		nodes = append(nodes, d)
	}
	// Provisioning sets acme's override; globex keeps its plan's rate.
	rc := goredis.NewClient(&goredis.Options{Addr: redis.Addr})
	defer rc.Close()
	if err := rc.Set(context.Background(), "limit:acme", "3/min", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, d := range nodes {
		d.Start()
	}
	send := func(from string) (int, string) {
		code, text := 0, ""
		for _, d := range nodes {
			cc := e2e.Dial(t, d.Addr)
			cc.Expect("EHLO tenant.test", 250)
			code, text = cc.Cmd("MAIL FROM:<" + from + ">")
			if code == 250 {
				cc.Expect("RCPT TO:<user@remote.example>", 250)
				if code, text = cc.Data("Subject: from " + from + "\r\n\r\nhello"); code != 250 {
					t.Fatalf("DATA: %d %s", code, text)
				}
			}
			cc.Cmd("QUIT")
			if code != 250 {
				return code, text
			}
		}
		return code, text
	}
	accepted := map[string]int{}
	for _, from := range []string{"a@acme.example", "b@mail.acme.example", "g@globex.example", "h@globex.example", "i@globex.example"} {
		code, text := send(from) // one message to each node
		if code != 250 && !(code == 450 && strings.Contains(text, "4.7.1 Sending limit of")) {
			t.Fatalf("%s: %d %s", from, code, text)
		}
	}
	for _, m := range sink.Wait(t, 3+5) { // acme: 3 of 4; globex: 5 of 6
		accepted[m.From[strings.IndexByte(m.From, '@')+1:]]++
	}
	if accepted["acme.example"]+accepted["mail.acme.example"] != 3 || accepted["globex.example"] != 5 {
		t.Fatalf("the smarthost got %v, want acme 3 (Redis override) and globex 5 (plan)", accepted)
	}
	c := e2e.Dial(t, nodes[1].Addr)
	c.Expect("EHLO tenant.test", 250)
	if code, text := c.Cmd("MAIL FROM:<x@unknown.example>"); code != 553 || !strings.Contains(text, "not hosted here") {
		t.Fatalf("unknown tenant: %d %s", code, text)
	}
	// Nothing more arrives: both nodes' queues are empty once the sink
	// has what was accepted.
	for _, d := range nodes {
		waitEmpty(t, d)
	}
	if n := len(sink.Messages()); n != 8 {
		t.Fatalf("the smarthost got %d messages, want 8", n)
	}
	// Each node put the mail in its tenant.
	sent := map[string]int{}
	for _, d := range nodes {
		for _, tenant := range []string{"acme", "globex"} {
			sent[tenant] += strings.Count(d.Logs(), ", tenant="+tenant+", status=sent")
		}
	}
	if sent["acme"] != 3 || sent["globex"] != 5 {
		t.Fatalf("delivery log lines by tenant: %v, want acme 3 and globex 5", sent)
	}
}

func waitEmpty(t *testing.T, d *e2e.Daemon) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(d.Queued("incoming"))+len(d.Queued("active"))+len(d.Queued("deferred")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("queue not empty:\n%s", d.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
