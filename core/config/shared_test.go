package config

import (
	"strings"
	"testing"
	"time"
)

func TestSharedSections(t *testing.T) {
	c, err := Load(write(t, `
[redis]
addresses = ["127.0.0.1:6379"]
password = "s3cret"
database = 2
read_timeout = "200ms"

[throttle]
on_redis_error = "fail_open"

[[sql]]
name = "tenants"
driver = "sqlite"
dsn = "tenants.db"

[[sql]]
name = "billing"
driver = "postgres"
dsn = "postgres://u@127.0.0.1/db"
max_open = 4
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.Addresses[0] != "127.0.0.1:6379" || c.Redis.Database != 2 || c.Redis.ReadTimeout.D() != 200*time.Millisecond ||
		c.Redis.DialTimeout.D() != time.Second {
		t.Fatalf("redis: %+v", c.Redis)
	}
	if c.Throttle.OnRedisError != "fail_open" || c.Throttle.RedisTimeout.D() != 250*time.Millisecond {
		t.Fatalf("throttle: %+v", c.Throttle)
	}
	if len(c.SQL) != 2 || c.SQL[0].MaxOpen != 10 || c.SQL[1].MaxOpen != 4 || c.SQL[1].Timeout.D() != time.Second {
		t.Fatalf("sql: %+v", c.SQL)
	}
	d, _ := Load("")
	if len(d.Redis.Addresses) != 0 || d.Throttle.OnRedisError != "fail_closed" {
		t.Fatalf("defaults: %+v %+v", d.Redis, d.Throttle)
	}
}

func TestSharedSectionsInvalid(t *testing.T) {
	for body, want := range map[string]string{
		"[redis]\naddresses = [\"nohost\"]\n":                                                                    "redis.addresses[0]",
		"[redis]\naddresses = [\"a:1\", \"b:2\"]\ndatabase = 1\n":                                                "redis.database",
		"[throttle]\non_redis_error = \"maybe\"\n":                                                               "throttle.on_redis_error",
		"[[sql]]\nname = \"x\"\ndriver = \"mysql\"\ndsn = \"d\"\n":                                               "sql[0].driver",
		"[[sql]]\nname = \"x\"\ndriver = \"sqlite\"\n":                                                           "sql[0].dsn",
		"[[sql]]\nname=\"x\"\ndriver=\"sqlite\"\ndsn=\"a\"\n[[sql]]\nname=\"x\"\ndriver=\"sqlite\"\ndsn=\"b\"\n": "sql[1].name",
	} {
		if _, err := Load(write(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %s", body, err, want)
		}
	}
}
