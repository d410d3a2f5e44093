package smtp

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/mtasts"
	"github.com/moonpost/moonpost/core/tlsrpt"
)

// The whole chain with the real cache: the _mta-sts TXT record on the
// loopback DNS server, the policy from an HTTPS server on loopback whose
// certificate the test CA signed, then enforcement at the agent.
func TestSTSWithPolicyFromHTTPS(t *testing.T) {
	e := newSTSEnv(t, nil, validCerts, nil)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("version: STSv1\r\nmode: enforce\r\nmx: *.mx.example.test\r\nmax_age: 604800\r\n"))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{e.ca.Issue(t, "mta-sts.example.test")}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	e.dns.Add(t, `_mta-sts.example.test. 60 IN TXT "v=STSv1; id=20260301T000000;"`)
	f := &mtasts.Fetcher{RootCAs: e.ca.Pool(), Timeout: 2 * time.Second,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "mta-sts.example.test:443" {
				t.Errorf("policy fetched from %s", addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		}}
	f.Init()
	cache := &mtasts.Cache{Resolver: dns.New(dnsConfig(e.dns.Addr)), Fetcher: f}
	e.agent.cfg.MTASTS = cache
	want(t, e.deliver(t), 0, 250, "2.0.0", relay("a.mx.example.test", "127.0.0.2", e.port))
	e.delivered(t, 1, 0)
	ss := e.wantSessions(t, tlsrpt.STS, tlsrpt.ValidationFailure, "")
	if ss[1].Policy.String[1] != "mode: enforce" {
		t.Errorf("policy-string %q", ss[1].Policy.String)
	}
}
