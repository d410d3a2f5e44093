package hooks

import (
	"context"
	"strconv"
	"testing"

	"github.com/moonpost/moonpost/core/egress"
)

const egressBenchScript = `
local google = {["aspmx.l.google.com"] = true}
mta.on("egress", function(d)
  if google[d.mx[1]] then
    return {site = "google", connection_limit = 20, max_message_rate = "100/s", tls = "verify"}
  end
  return {connection_limit = 5, max_message_rate = "10/s"}
end)
`

// BenchmarkEgressPerDestination is the cost of the egress hook for a
// destination seen for the first time: one Lua call and its decoding
// (the MX list is given, as after a cached DNS answer).
func BenchmarkEgressPerDestination(b *testing.B) {
	e := newEngine(b, map[string]string{"30-egress.lua": egressBenchScript})
	c := &egress.Cache{Hook: e.Egress, LookupMX: func(context.Context, string) ([]string, error) {
		return []string{"aspmx.l.google.com"}, nil
	}}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.Policy(ctx, "smtp", "d"+strconv.Itoa(i)+".test", ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEgressPerMessage is what every later message to a known
// destination pays: a cache lookup.
func BenchmarkEgressPerMessage(b *testing.B) {
	e := newEngine(b, map[string]string{"30-egress.lua": egressBenchScript})
	c := &egress.Cache{Hook: e.Egress}
	ctx := context.Background()
	c.Policy(ctx, "smtp", "gmail.com", "tenant-a")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Policy(ctx, "smtp", "gmail.com", "tenant-a"); err != nil {
			b.Fatal(err)
		}
	}
	if c.Calls() != 1 {
		b.Fatalf("hook called %d times", c.Calls())
	}
}
