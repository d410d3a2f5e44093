package sql_test

import (
	"context"
	"testing"
)

// BenchmarkLookupSQLite and BenchmarkLookupPostgres are one uncached
// per-message lookup (a prepared SELECT by primary key).
func BenchmarkLookupSQLite(b *testing.B)   { benchLookup(b, "lite", "?") }
func BenchmarkLookupPostgres(b *testing.B) { benchLookup(b, "pg", "$1") }

func benchLookup(b *testing.B, name, ph string) {
	dbs := openDBsB(b)
	db, _ := dbs.Get(name)
	ctx := context.Background()
	q := "SELECT rate FROM tenants WHERE name = " + ph
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rows, err := db.Query(ctx, q, "acme")
			if err != nil || len(rows.Values) != 1 {
				b.Fatal(rows, err)
			}
		}
	})
}
