package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
	"github.com/moonpost/moonpost/hooks"
)

// TestShaperUsesTheResolver: the daemon's shaper gives the egress hook
// the MX host names from the daemon's resolver, so domains hosted on
// one provider's MX share a site; a dead resolver defers (an error),
// never a policy decided without them.
func TestShaperUsesTheResolver(t *testing.T) {
	dir := t.TempDir()
	script := `mta.on("egress", function(d)
  if d.mx[1] == "aspmx.l.google.test" then return {site = "google"} end
  return {site = "other"}
end)`
	if err := os.WriteFile(filepath.Join(dir, "30-egress.lua"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := hooks.New(hooks.Config{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ns := dnstest.NewServer(t)
	ns.Add(t, "hosted.test. 300 IN MX 10 aspmx.l.google.test.", "aspmx.l.google.test. 300 IN A 127.0.0.5",
		"own.test. 300 IN MX 10 mx.own.test.", "mx.own.test. 300 IN A 127.0.0.6")
	sh := newShaper(&policies{engine: eng}, dns.New(dns.Config{Servers: []string{ns.Addr}, Timeout: time.Second}))
	ctx := context.Background()
	for dom, site := range map[string]string{"hosted.test": "google", "own.test": "other"} {
		p, err := sh.Policy(ctx, "smtp", dom, "")
		if err != nil || p == nil || p.Site != site {
			t.Errorf("%s: %+v, %v; want site %s", dom, p, err, site)
		}
	}
	dead := newShaper(&policies{engine: eng}, dns.New(dns.Config{Servers: []string{"127.0.0.1:9"}, Timeout: 200 * time.Millisecond}))
	if p, err := dead.Policy(ctx, "smtp", "hosted.test", ""); err == nil {
		t.Errorf("no DNS answer gave %+v", p)
	}
	if p, err := dead.Policy(ctx, "smtp", "[127.0.0.1]:25", ""); err != nil || p.Site != "other" {
		t.Errorf("a [host] next hop needs no MX: %+v, %v", p, err)
	}
}
