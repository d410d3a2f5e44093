package mtasts

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
	"github.com/moonpost/moonpost/core/internal/testca"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// policyServer is an HTTPS server on loopback for mta-sts.example.test
// whose answer the test sets; it counts the requests.
type policyServer struct {
	srv  *httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	// handle answers; nil serves body as text/plain.
	handle func(w http.ResponseWriter, r *http.Request)
	body   string
}

func newPolicyServerTB(t testing.TB, ca *testca.CA, body string) *policyServer {
	return newPolicyServer(t, ca.Issue(t, "mta-sts.example.test"), body)
}

func newPolicyServer(t testing.TB, cert tls.Certificate, body string) *policyServer {
	ps := &policyServer{body: body}
	ps.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.hits.Add(1)
		if r.URL.Path != "/.well-known/mta-sts.txt" || r.Host != "mta-sts.example.test" {
			http.NotFound(w, r)
			return
		}
		ps.mu.Lock()
		h, body := ps.handle, ps.body
		ps.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(body))
	}))
	ps.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	ps.srv.StartTLS()
	t.Cleanup(ps.srv.Close)
	return ps
}

func (ps *policyServer) set(body string, h func(http.ResponseWriter, *http.Request)) {
	ps.mu.Lock()
	ps.body, ps.handle = body, h
	ps.mu.Unlock()
}

// env is a cache whose DNS is a loopback dnstest server and whose
// policy host resolves (through the injected dialer) to the server.
type env struct {
	ca    *testca.CA
	ps    *policyServer
	clock *fakeClock
	cache *Cache
	dials atomic.Int64
}

func newEnv(t *testing.T, txt string, body string) *env {
	t.Helper()
	e := &env{ca: testca.New(t), clock: &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	e.ps = newPolicyServer(t, e.ca.Issue(t, "mta-sts.example.test"), body)
	f := &Fetcher{RootCAs: e.ca.Pool(), Timeout: 2 * time.Second, Dial: e.dial(e.ps.srv.Listener.Addr().String())}
	f.Init()
	e.cache = &Cache{Resolver: resolverWith(t, txt), Fetcher: f, Clock: e.clock, Logger: slog.New(slog.DiscardHandler)}
	return e
}

// dial sends the policy host's port 443 to the loopback server and
// refuses anything else.
func (e *env) dial(to string) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != "mta-sts.example.test:443" {
			return nil, errors.New("test dialer: unexpected address " + addr)
		}
		e.dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, to)
	}
}

// resolverWith is a resolver over a fresh loopback DNS server holding
// the _mta-sts TXT record txt ("" for none), uncached, so a test
// changes the record by swapping resolvers.
func resolverWith(t *testing.T, txt string) dns.Resolver {
	s := dnstest.NewServer(t)
	s.Add(t, "example.test. 60 IN A 127.0.0.1")
	if txt != "" {
		s.Add(t, `_mta-sts.example.test. 60 IN TXT "`+txt+`"`)
	}
	return dns.New(dns.Config{Servers: []string{s.Addr}, Timeout: time.Second, Attempts: 1, CacheSize: -1})
}

const testPolicy = "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 86400\n"

func (e *env) policy(t *testing.T) (*Policy, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.cache.Policy(ctx, "example.test")
}

func mustPolicy(t *testing.T, e *env, mode Mode) *Policy {
	t.Helper()
	p, err := e.policy(t)
	if err != nil || p == nil || p.Mode != mode {
		t.Fatalf("policy %+v, %v; want mode %s", p, err, mode)
	}
	return p
}

func TestFetchAndCacheByID(t *testing.T) {
	e := newEnv(t, "v=STSv1; id=1", testPolicy)
	p := mustPolicy(t, e, Enforce)
	if !p.Match("mx.example.test") || p.MaxAge != 24*time.Hour {
		t.Fatalf("policy %+v", p)
	}
	mustPolicy(t, e, Enforce)
	if n := e.ps.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for one id, want 1", n)
	}
	// A new id means a new policy: fetched at once.
	e.ps.set(strings.Replace(testPolicy, "enforce", "testing", 1), nil)
	e.cache.Resolver = resolverWith(t, "v=STSv1; id=2")
	mustPolicy(t, e, Testing)
	if n := e.ps.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after the id changed, want 2", n)
	}
}

func TestExpiredPolicyIsFetchedAgain(t *testing.T) {
	e := newEnv(t, "v=STSv1; id=1", testPolicy)
	mustPolicy(t, e, Enforce)
	e.clock.Add(12*time.Hour - time.Second)
	mustPolicy(t, e, Enforce)
	if n := e.ps.hits.Load(); n != 1 {
		t.Fatalf("%d fetches within half of max_age, want 1", n)
	}
	// Lookups a day later: the policy expired, and is fetched at once.
	e.ps.set("", http.NotFound) // the refresh at half-life fails
	e.clock.Add(time.Second)
	mustPolicy(t, e, Enforce)
	waitHits(t, e, 2)
	waitIdle(t, e)
	e.clock.Add(12 * time.Hour)
	e.ps.set(strings.Replace(testPolicy, "enforce", "testing", 1), nil)
	mustPolicy(t, e, Testing)
	if n := e.ps.hits.Load(); n != 3 {
		t.Fatalf("%d fetches past max_age, want 3", n)
	}
}

// §5.1: a policy in use is refreshed before it expires, so a policy
// server down on the day of expiry does not end it.
func TestPolicyRefreshedAheadOfExpiry(t *testing.T) {
	e := newEnv(t, "v=STSv1; id=1", testPolicy)
	mustPolicy(t, e, Enforce)
	e.clock.Add(12 * time.Hour)
	mustPolicy(t, e, Enforce) // answered from the cache; refresh in the background
	waitHits(t, e, 2)
	waitRefreshed(t, e, e.clock.Now())
	e.ps.set("", http.NotFound)
	e.clock.Add(13 * time.Hour) // past the first fetch's expiry, not the refresh's
	mustPolicy(t, e, Enforce)
}

// waitHits waits (5s at most) for the policy server's n-th request.
func waitHits(t *testing.T, e *env, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.ps.hits.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d fetches, want %d", e.ps.hits.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitIdle waits for the background fetch to settle.
func waitIdle(t *testing.T, e *env) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.cache.mu.Lock()
		n := len(e.cache.inflight)
		e.cache.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("fetch still running")
		}
		time.Sleep(time.Millisecond)
	}
}

// waitRefreshed waits for the cached entry to be the one fetched at.
func waitRefreshed(t *testing.T, e *env, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.cache.mu.Lock()
		ent := e.cache.policies["example.test"]
		e.cache.mu.Unlock()
		if ent != nil && ent.Fetched.Equal(at) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("policy not refreshed")
		}
		time.Sleep(time.Millisecond)
	}
}

// RFC 8461 §5.1: a cached policy stays in force while it is fresh, when
// the TXT record disappears or the new policy cannot be fetched.
func TestCachedPolicySurvivesFailures(t *testing.T) {
	e := newEnv(t, "v=STSv1; id=1", testPolicy)
	mustPolicy(t, e, Enforce)

	e.cache.Resolver = resolverWith(t, "") // the record is stripped
	mustPolicy(t, e, Enforce)

	e.cache.Resolver = resolverWith(t, "v=STSv1; id=2") // new id, server broken
	e.ps.set("", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	mustPolicy(t, e, Enforce)

	// Once it expires with no replacement, there is no policy, and the
	// failure says why.
	e.clock.Add(25 * time.Hour)
	p, err := e.policy(t)
	var se *Error
	if p != nil || !errors.As(err, &se) || se.Type != FetchFailed {
		t.Fatalf("after expiry: %+v, %v; want a %s error", p, err, FetchFailed)
	}
}

func TestNoRecordNoFetch(t *testing.T) {
	e := newEnv(t, "", testPolicy)
	if p, err := e.policy(t); p != nil || err != nil {
		t.Fatalf("no record: %+v, %v", p, err)
	}
	e.cache.Resolver = resolverWith(t, "v=STSv1; id=a|b") // not a valid id
	if p, err := e.policy(t); p != nil || err != nil {
		t.Fatalf("bad record: %+v, %v", p, err)
	}
	if n := e.dials.Load(); n != 0 {
		t.Fatalf("%d connections to the policy host, want 0", n)
	}
}

func TestFetchFailuresAreTyped(t *testing.T) {
	big := testPolicy + strings.Repeat("x-pad: "+strings.Repeat("a", 100)+"\n", MaxPolicySize/100)
	for _, tc := range []struct {
		name string
		h    func(w http.ResponseWriter, r *http.Request)
		want string
	}{
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://mta-sts.example.test/other.txt", http.StatusFound)
		}, FetchFailed},
		{"404", http.NotFound, FetchFailed},
		{"html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(testPolicy))
		}, PolicyInvalid},
		{"no content type", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			_, _ = w.Write([]byte(testPolicy))
		}, PolicyInvalid},
		{"bad policy", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("version: STSv1\nmode: enforce\n"))
		}, PolicyInvalid},
		{"too big", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(big))
		}, FetchFailed},
		{"too slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, FetchFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "v=STSv1; id=1", "")
			e.cache.Fetcher.Timeout = 300 * time.Millisecond
			e.cache.Fetcher.Init()
			e.ps.set("", tc.h)
			wantFailure(t, e, tc.want)
		})
	}
}

func wantFailure(t *testing.T, e *env, typ string) {
	t.Helper()
	p, err := e.policy(t)
	var se *Error
	if p != nil || !errors.As(err, &se) || se.Type != typ {
		t.Fatalf("got %+v, %v; want a %s error", p, err, typ)
	}
}

func TestCertificateMustVerify(t *testing.T) {
	e := newEnv(t, "v=STSv1; id=1", testPolicy)
	e.cache.Fetcher.RootCAs = nil // the system roots do not know the test CA
	e.cache.Fetcher.Init()
	wantFailure(t, e, WebPKIInvalid)

	wrong := newEnv(t, "v=STSv1; id=1", testPolicy)
	wrong.ps.srv.TLS.Certificates = []tls.Certificate{wrong.ca.Issue(t, "other.example.test")}
	wantFailure(t, wrong, WebPKIInvalid)

	expired := newEnv(t, "v=STSv1; id=1", testPolicy)
	expired.ps.srv.TLS.Certificates = []tls.Certificate{expired.ca.IssueExpired(t, "mta-sts.example.test")}
	wantFailure(t, expired, WebPKIInvalid)
}

func TestFailedFetchIsNotRepeatedAtOnce(t *testing.T) {
	e := newEnv(t, "v=STSv1; id=1", "")
	e.ps.set("", http.NotFound)
	wantFailure(t, e, FetchFailed)
	wantFailure(t, e, FetchFailed)
	if n := e.ps.hits.Load(); n != 1 {
		t.Fatalf("%d fetches within FailureTTL, want 1", n)
	}
	e.clock.Add(FailureTTL)
	e.ps.set(testPolicy, nil)
	mustPolicy(t, e, Enforce)
}

func TestConcurrentLookupsFetchOnce(t *testing.T) {
	e := newEnv(t, "v=STSv1; id=1", "")
	release := make(chan struct{})
	e.ps.set("", func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(testPolicy))
	})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p, err := e.policy(t); err != nil || p == nil {
				errs <- errors.Join(err, errors.New("no policy"))
			}
		}()
	}
	// The first fetch is in the server before the others give up.
	deadline := time.Now().Add(5 * time.Second)
	for e.ps.hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the other lookups reach the wait
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.ps.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for 8 concurrent lookups, want 1", n)
	}
}

func TestPoliciesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, "v=STSv1; id=1", testPolicy)
	e.cache.Dir = dir
	mustPolicy(t, e, Enforce)

	// A new daemon: no TXT record any more, and the server is gone.
	again := &Cache{Resolver: resolverWith(t, ""), Fetcher: e.cache.Fetcher, Clock: e.clock, Dir: dir}
	e.ps.srv.Close()
	p, err := again.Policy(context.Background(), "example.test")
	if err != nil || p == nil || p.Mode != Enforce || !p.Match("mx.example.test") {
		t.Fatalf("after restart: %+v, %v", p, err)
	}
	// Past max_age the stored policy is gone, file and all.
	e.clock.Add(25 * time.Hour)
	later := &Cache{Resolver: resolverWith(t, ""), Fetcher: e.cache.Fetcher, Clock: e.clock, Dir: dir}
	if p, err := later.Policy(context.Background(), "example.test"); p != nil || err != nil {
		t.Fatalf("expired stored policy used: %+v, %v", p, err)
	}
}

// A stored policy that does not parse is dropped at start, not used.
func TestBadStoredPolicyDropped(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "example.test"), []byte(`{"id":"1","expires":"2099-01-01T00:00:00Z","policy":"mode: enforce\n"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "", testPolicy)
	e.cache.Dir = dir
	if p, err := e.policy(t); p != nil || err != nil {
		t.Fatalf("bad stored policy used: %+v, %v", p, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "example.test")); !os.IsNotExist(err) {
		t.Fatalf("bad stored policy kept: %v", err)
	}
}
