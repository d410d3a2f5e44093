package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/moonpost/moonpost/core/cleanup"
	mdns "github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
	"github.com/moonpost/moonpost/core/internal/testca"
	"github.com/moonpost/moonpost/core/queue"
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

var day = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

var stsPolicy = Policy{Type: STS, Domain: "example.test",
	String: []string{"version: STSv1", "mode: testing", "mx: *.mx.example.test", "max_age: 86400"},
	MXHost: []string{"*.mx.example.test"}}

func sessionsOfADay(s *Store) {
	ok := Session{Policy: stsPolicy, SendingIP: "127.0.0.1", ReceivingIP: "127.0.0.2", MXHost: "a.mx.example.test"}
	for i := 0; i < 3; i++ {
		s.Record(ok)
	}
	bad := ok
	bad.Result, bad.Detail = CertificateExpired, "x509: certificate has expired"
	s.Record(bad)
	s.Record(bad)
	nope := Session{Policy: Policy{Type: NoPolicy, Domain: "example.test"}, Result: STARTTLSNotSupported,
		ReceivingIP: "127.0.0.3", MXHost: "b.mx.example.test"}
	s.Record(nope)
	s.Record(Session{Policy: Policy{Type: NoPolicy, Domain: "other.test"}}) // no record: no report
}

func TestCountsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: day.Add(13 * time.Hour)}
	s := &Store{Dir: dir, Clock: clock}
	sessionsOfADay(s)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	again := &Store{Dir: dir, Clock: clock}
	if ps := again.due(clock.Now()); len(ps) != 0 {
		t.Fatalf("%d periods due before the day ended", len(ps))
	}
	again.Record(Session{Policy: stsPolicy}) // the day goes on after the restart
	clock.Add(11 * time.Hour)
	ps := again.due(clock.Now())
	if len(ps) != 1 {
		t.Fatalf("%d periods due, want 1", len(ps))
	}
	r := buildReport(ps[0], "example.test", "org", "c@x", "id")
	if len(r.Policies) != 2 {
		t.Fatalf("policies %+v", r.Policies)
	}
	var sts PolicyResult
	for _, p := range r.Policies {
		if p.Policy.Type == STS {
			sts = p
		}
	}
	if sts.Summary != (Summary{Successful: 4, Failed: 2}) || len(sts.FailureDetails) != 1 || sts.FailureDetails[0].Count != 2 {
		t.Fatalf("sts counts after restart: %+v", sts)
	}
	if r.DateRange != (DateRange{"2026-03-01T00:00:00Z", "2026-03-01T23:59:59Z"}) {
		t.Errorf("date range %+v", r.DateRange)
	}
}

func TestCorruptPeriodFileIsSetAside(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: day}
	name := dir + "/1772323200.json"
	if err := writeFile(name, "{not json"); err != nil {
		t.Fatal(err)
	}
	s := &Store{Dir: dir, Clock: clock}
	s.Record(Session{Policy: stsPolicy})
	if err := readable(name + ".corrupt"); err != nil {
		t.Fatalf("corrupt file not kept: %v", err)
	}
}

func TestParseRecord(t *testing.T) {
	r, err := ParseRecord([]string{"v=spf1 -all", "v=TLSRPTv1; rua=mailto:tls@example.test, https://rpt.example.test/v1;ext=1;"})
	if err != nil || len(r.Mailto) != 1 || r.Mailto[0] != "tls@example.test" || len(r.HTTPS) != 1 || r.HTTPS[0] != "https://rpt.example.test/v1" {
		t.Fatalf("%+v, %v", r, err)
	}
	r, err = ParseRecord([]string{"v=TLSRPTv1;rua=mailto:a%2Bb@example.test"})
	if err != nil || r.Mailto[0] != "a+b@example.test" {
		t.Fatalf("escaped: %+v, %v", r, err)
	}
	for _, txt := range []string{
		"v=TLSRPTv1", "v=TLSRPTv1; rua=", "v=TLSRPTv1; rua=http://x.test/", "v=TLSRPTv1; rua=mailto:nobody",
		"v=TLSRPTv1; rua=mailto:a@b.test; rua=mailto:c@d.test", "v=TLSRPTv1; rua=mailto:a@b.test>,x", "v=TLSRPTv2; rua=mailto:a@b.test",
		"v=TLSRPTv1; rua=mailto:a@b.test|v=TLSRPTv1; rua=mailto:c@d.test", "v=TLSRPTv1; rua=https://user@h.test/",
	} {
		if r, err := ParseRecord(strings.Split(txt, "|")); err == nil {
			t.Errorf("%q accepted: %+v", txt, r)
		}
	}
}

// env is a Service over a real queue (through cleanup), a loopback DNS
// server and an HTTPS server for https: rua.
type env struct {
	clock *fakeClock
	store *Store
	svc   *Service
	queue *queue.Store
	dns   *dnstest.Server
	posts chan post
}

type post struct {
	contentType string
	body        []byte
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clock: &fakeClock{now: day.Add(9 * time.Hour)}, dns: dnstest.NewServer(t), posts: make(chan post, 10)}
	e.dns.Add(t, `_smtp._tls.example.test. 60 IN TXT "v=TLSRPTv1; rua=mailto:tls@example.test,https://rpt.example.test/tlsrpt"`)
	ca := testca.New(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPost && r.URL.Path == "/tlsrpt" && r.Host == "rpt.example.test" {
			e.posts <- post{r.Header.Get("Content-Type"), body}
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "rpt.example.test")}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	to := srv.Listener.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "rpt.example.test:443" {
				return nil, &net.OpError{Op: "dial", Err: io.ErrUnexpectedEOF}
			}
			return (&net.Dialer{}).DialContext(ctx, network, to)
		}}}
	q, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	e.queue = q
	e.store = &Store{Clock: e.clock}
	res := mdns.New(mdns.Config{Servers: []string{e.dns.Addr}, Timeout: time.Second, Attempts: 1, CacheSize: -1})
	e.svc = &Service{Store: e.store, Resolver: res, Submitter: &cleanup.Cleanup{Store: q, Hostname: "mta.sender.test"},
		HTTP: client, OrganizationName: "Sender Org", ContactInfo: "postmaster@sender.test", From: "tlsrpt-noreply@sender.test"}
	return e
}

func (e *env) queued(t *testing.T) []*queue.Message {
	t.Helper()
	ents, err := e.queue.List(queue.Incoming)
	if err != nil {
		t.Fatal(err)
	}
	var out []*queue.Message
	for _, ent := range ents {
		m, err := e.queue.Read(queue.Incoming, ent.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		out = append(out, m)
	}
	return out
}

func TestDailyReportIsQueuedAndPosted(t *testing.T) {
	e := newEnv(t)
	sessionsOfADay(e.store)
	e.svc.SendDue(context.Background())
	if n := len(e.queued(t)); n != 0 {
		t.Fatalf("%d reports queued before the day ended", n)
	}
	e.clock.Add(15 * time.Hour) // 00:00 the next day
	e.svc.SendDue(context.Background())
	ms := e.queued(t)
	if len(ms) != 1 {
		t.Fatalf("%d reports queued, want 1 (other.test has no record)", len(ms))
	}
	m := ms[0]
	if m.Sender != "tlsrpt-noreply@sender.test" || len(m.Recipients) != 1 || m.Recipients[0].Addr != "tls@example.test" {
		t.Fatalf("envelope %+v", m.Envelope)
	}
	gz, name := reportPart(t, m)
	wantName := "sender.test!example.test!1772323200!1772409599.json.gz"
	if name != wantName {
		t.Errorf("filename %q, want %q", name, wantName)
	}
	checkSchema(t, gunzip(t, gz))
	select {
	case p := <-e.posts:
		if p.contentType != "application/tlsrpt+gzip" || !bytes.Equal(p.body, gz) {
			t.Errorf("POST %q, %d bytes; want the mailed report", p.contentType, len(p.body))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no report POSTed to the https rua")
	}
	// Sent once: the period is gone.
	e.svc.SendDue(context.Background())
	if n := len(e.queued(t)); n != 1 {
		t.Fatalf("%d reports after a second round, want still 1", n)
	}
}

// reportPart checks the message's MIME shape (RFC 8460 §5.3) and
// returns the decoded application/tlsrpt+gzip part and its file name.
func reportPart(t *testing.T, m *queue.Message) ([]byte, string) {
	t.Helper()
	msg, err := mail.ReadMessage(m.Open())
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	if h.Get("TLS-Report-Domain") != "example.test" || h.Get("TLS-Report-Submitter") != "sender.test" {
		t.Errorf("report headers: %v", h)
	}
	if !regexp.MustCompile(`^Report Domain: example\.test Submitter: sender\.test Report-ID: <[^>]+>$`).MatchString(h.Get("Subject")) {
		t.Errorf("subject %q", h.Get("Subject"))
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "tlsrpt" {
		t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for i := 0; i < 10; i++ {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no application/tlsrpt+gzip part: %v", err)
		}
		if part.Header.Get("Content-Type") != "application/tlsrpt+gzip" {
			continue
		}
		if part.Header.Get("Content-Transfer-Encoding") != "base64" {
			t.Errorf("encoding %q", part.Header.Get("Content-Transfer-Encoding"))
		}
		raw, _ := io.ReadAll(part)
		gz, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		return gz, part.FileName()
	}
	t.Fatal("too many parts")
	return nil, ""
}

func gunzip(t *testing.T, gz []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkSchema reads the report as plain JSON and checks the fields and
// types RFC 8460 §4.4 requires, and the counts.
func checkSchema(t *testing.T, data []byte) {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, data)
	}
	str := func(m map[string]any, k string) string {
		s, ok := m[k].(string)
		if !ok || s == "" {
			t.Errorf("field %q = %#v, want a string", k, m[k])
		}
		return s
	}
	if str(r, "organization-name") != "Sender Org" || str(r, "contact-info") != "postmaster@sender.test" {
		t.Errorf("organization or contact: %s", data)
	}
	str(r, "report-id")
	dr, _ := r["date-range"].(map[string]any)
	if dr == nil || str(dr, "start-datetime") != "2026-03-01T00:00:00Z" || str(dr, "end-datetime") != "2026-03-01T23:59:59Z" {
		t.Errorf("date-range %#v", r["date-range"])
	}
	pols, _ := r["policies"].([]any)
	if len(pols) != 2 {
		t.Fatalf("policies %#v", r["policies"])
	}
	seen := map[string]bool{}
	for _, raw := range pols {
		p := raw.(map[string]any)
		pol := p["policy"].(map[string]any)
		sum := p["summary"].(map[string]any)
		typ := str(pol, "policy-type")
		seen[typ] = true
		if str(pol, "policy-domain") != "example.test" {
			t.Errorf("policy-domain %v", pol["policy-domain"])
		}
		ok, okNum := sum["total-successful-session-count"].(float64)
		bad, badNum := sum["total-failure-session-count"].(float64)
		if !okNum || !badNum {
			t.Fatalf("summary %#v", sum)
		}
		details, _ := p["failure-details"].([]any)
		switch typ {
		case "sts":
			lines, _ := pol["policy-string"].([]any)
			mx, _ := pol["mx-host"].([]any)
			if len(lines) != 4 || lines[1] != "mode: testing" || len(mx) != 1 || mx[0] != "*.mx.example.test" {
				t.Errorf("sts policy %#v", pol)
			}
			if ok != 3 || bad != 2 || len(details) != 1 {
				t.Fatalf("sts counts %#v %#v", sum, details)
			}
			d := details[0].(map[string]any)
			if str(d, "result-type") != "certificate-expired" || str(d, "sending-mta-ip") != "127.0.0.1" ||
				str(d, "receiving-ip") != "127.0.0.2" || str(d, "receiving-mx-hostname") != "a.mx.example.test" ||
				d["failed-session-count"] != float64(2) || !strings.Contains(str(d, "additional-information"), "expired") {
				t.Errorf("failure detail %#v", d)
			}
		case "no-policy-found":
			if ok != 0 || bad != 1 || len(details) != 1 || details[0].(map[string]any)["result-type"] != "starttls-not-supported" {
				t.Errorf("no-policy-found %#v %#v", sum, details)
			}
		}
	}
	if !seen["sts"] || !seen["no-policy-found"] {
		t.Errorf("policy types %v", seen)
	}
}

// A temporary DNS failure keeps the period for the next round, until
// GiveUpAfter.
func TestTemporaryFailureRetriedThenGivenUp(t *testing.T) {
	e := newEnv(t)
	e.dns.SetRcode("_smtp._tls.example.test", dns.RcodeServerFailure)
	sessionsOfADay(e.store)
	e.clock.Add(15 * time.Hour)
	e.svc.SendDue(context.Background())
	if len(e.store.due(e.clock.Now())) != 1 {
		t.Fatal("period dropped after a temporary failure")
	}
	e.clock.Add(25 * time.Hour)
	e.svc.SendDue(context.Background())
	if n := len(e.store.due(e.clock.Now())); n != 0 || len(e.queued(t)) != 0 {
		t.Fatalf("%d periods kept past GiveUpAfter", n)
	}
}

func TestRunFlushesAtShutdown(t *testing.T) {
	e := newEnv(t)
	e.store.Dir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.svc.Run(ctx) }()
	sessionsOfADay(e.store)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	again := &Store{Dir: e.store.Dir, Clock: e.clock}
	if n := len(again.due(day.Add(48 * time.Hour))); n != 1 {
		t.Fatalf("%d periods after restart, want 1", n)
	}
}

// BenchmarkRecord is what a session costs the smtp agent with TLS
// reporting on.
func BenchmarkRecord(b *testing.B) {
	s := &Store{}
	ok := Session{Policy: stsPolicy, SendingIP: "127.0.0.1", ReceivingIP: "127.0.0.2", MXHost: "a.mx.example.test"}
	bad := ok
	bad.Result, bad.Detail = CertificateExpired, "x509: certificate has expired"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i%10 == 0 {
			s.Record(bad)
		} else {
			s.Record(ok)
		}
	}
}

// A receiver with many broken addresses costs bounded memory: the
// summary counts every failure, the details stop at maxDetails.
func TestFailureDetailsAreBounded(t *testing.T) {
	clock := &fakeClock{now: day}
	s := &Store{Clock: clock}
	for i := 0; i < maxDetails+50; i++ {
		s.Record(Session{Policy: stsPolicy, Result: CertificateNotTrusted, ReceivingIP: fmt.Sprintf("192.0.2.%d", i%250), MXHost: fmt.Sprintf("mx%d.example.test", i)})
	}
	clock.Add(24 * time.Hour)
	r := buildReport(s.due(clock.Now())[0], "example.test", "o", "c", "id")
	if p := r.Policies[0]; p.Summary.Failed != maxDetails+50 || len(p.FailureDetails) != maxDetails {
		t.Fatalf("summary %+v, %d details", p.Summary, len(p.FailureDetails))
	}
}
