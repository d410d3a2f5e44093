package dns

import (
	"context"
	"testing"
)

// Lookups, cache hits and queries to the server are counted by type.
func TestStatsCountLookupsAndCacheHits(t *testing.T) {
	srv, r, _ := newTest(t, "example.test. 300 IN MX 10 mx.example.test.", "mx.example.test. 300 IN A 192.0.2.1")
	ctx := context.Background()
	for range 3 {
		if _, err := r.LookupMX(ctx, "example.test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.LookupTXT(ctx, "example.test"); err == nil {
		t.Fatal("TXT answered; the zone has none")
	}
	st := r.(Counted).Stats()
	mx := st["MX"]
	if mx.Lookups != 3 || mx.Hits != 2 || mx.Queries != 1 || mx.Failures != 0 {
		t.Errorf("MX figures %+v", mx)
	}
	if txt := st["TXT"]; txt.Lookups != 1 || txt.Hits != 0 || txt.Queries != 1 {
		t.Errorf("TXT figures %+v", txt)
	}
	var sent uint64
	for _, s := range st {
		sent += s.Queries
	}
	if sent != uint64(srv.Queries()) {
		t.Errorf("counted %d queries, the server saw %d", sent, srv.Queries())
	}
}
