// Package dnstest runs a small authoritative DNS server on loopback for
// tests of the resolver and of everything that consumes one: records in
// zone-file syntax, forced rcodes, truncated UDP answers and a server
// that never answers.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server answers from an in-memory zone over UDP and TCP on the same
// 127.0.0.1 port.
type Server struct {
	Addr string // "127.0.0.1:port", for dns.Config.Servers

	mu       sync.Mutex
	records  []dns.RR
	rcodes   map[string]int   // fqdn → forced rcode
	truncate map[string]bool  // fqdn → UDP answers carry TC and no records
	secure   map[string]bool  // fqdn → answers carry AD, as from a validating resolver
	drop     map[string]bool  // fqdn → questions are never answered
	stalls   map[string]stall // fqdn → answers held back
	queries  atomic.Int64
}

// stall holds answers for a name back: for at least min, then until
// release is closed (at most 10 s); answered is called before each.
type stall struct {
	min      time.Duration
	release  <-chan struct{}
	answered func()
}

// soa gives negative answers a 30s TTL.
var soa, _ = dns.NewRR("test. 30 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 30")

// NewServer starts a server; it stops when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{rcodes: map[string]int{}, truncate: map[string]bool{},
		secure: map[string]bool{}, drop: map[string]bool{}}
	pc, ln := listenPair(t)
	s.Addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: s},
		{Listener: ln, Handler: s},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return s
}

// listenPair binds UDP and TCP on one port, retrying a few times in case
// the UDP port's TCP twin is taken.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	for i := 0; i < 20; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("dnstest: no free UDP+TCP port pair")
	return nil, nil
}

// Add loads records in zone-file syntax, one per argument:
// "example.com. 300 IN MX 10 mx.example.com.".
func (s *Server) Add(t testing.TB, rrs ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range rrs {
		rr, err := dns.NewRR(z)
		if err != nil {
			t.Fatalf("dnstest: %q: %v", z, err)
		}
		s.records = append(s.records, rr)
	}
}

// AddRR loads records built in code, for data that zone-file syntax
// makes awkward (TXT strings with quotes, spaces or control bytes). Each
// goes through the wire format once, so its owner name is in the
// escaped form questions arrive in ("a\032b." for a space).
func (s *Server) AddRR(t testing.TB, rrs ...dns.RR) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rr := range rrs {
		buf := make([]byte, dns.Len(rr)+1)
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err == nil {
			rr, _, err = dns.UnpackRR(buf[:n], 0)
		}
		if err != nil {
			t.Fatalf("dnstest: %v: %v", rr, err)
		}
		s.records = append(s.records, rr)
	}
}

// Drop makes every question for name go unanswered, as a server that
// times out.
func (s *Server) Drop(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop[dns.Fqdn(strings.ToLower(name))] = true
}

// SetRcode makes every question for name fail with rcode
// (dns.RcodeServerFailure, dns.RcodeRefused, ...).
func (s *Server) SetRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcodes[dns.Fqdn(strings.ToLower(name))] = rcode
}

// Truncate makes UDP answers for name empty with the TC bit set, so only
// a client that retries over TCP sees the records.
func (s *Server) Truncate(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate[dns.Fqdn(strings.ToLower(name))] = true
}

// Stall makes the server answer questions about name only after min has
// passed and release is closed (10 s at most, so a test cannot hang),
// calling answered just before each answer: a slow authority whose
// effect a test can order against other events.
func (s *Server) Stall(name string, min time.Duration, release <-chan struct{}, answered func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stalls == nil {
		s.stalls = map[string]stall{}
	}
	s.stalls[dns.Fqdn(strings.ToLower(name))] = stall{min, release, answered}
}

func (s *Server) wait(q dns.Question) {
	s.mu.Lock()
	st, ok := s.stalls[strings.ToLower(q.Name)]
	s.mu.Unlock()
	if !ok {
		return
	}
	time.Sleep(st.min)
	select {
	case <-st.release:
	case <-time.After(10 * time.Second):
	}
	if st.answered != nil {
		st.answered()
	}
}

// Secure makes answers for each name carry the AD bit, as a validating
// resolver sets it for data whose DNSSEC signatures it checked. Other
// names are answered without it (insecure, as for an unsigned zone).
func (s *Server) Secure(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		s.secure[dns.Fqdn(strings.ToLower(n))] = true
	}
}

// Queries counts the questions received, over both transports.
func (s *Server) Queries() int64 { return s.queries.Load() }

// ServeDNS answers like an authoritative server that does not chase
// CNAMEs: a name with a CNAME gets just the CNAME.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) == 1 {
		if s.dropped(req.Question[0].Name) {
			return
		}
		s.wait(req.Question[0])
		s.answer(m, req.Question[0], w.LocalAddr().Network() == "udp")
	}
	_ = w.WriteMsg(m)
}

func (s *Server) dropped(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.drop[strings.ToLower(name)]
}

func (s *Server) answer(m *dns.Msg, q dns.Question, udp bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := strings.ToLower(q.Name)
	if rc, ok := s.rcodes[name]; ok {
		m.Rcode = rc
		return
	}
	exists := false
	var cname dns.RR
	for _, rr := range s.records {
		h := rr.Header()
		if !strings.EqualFold(h.Name, name) {
			continue
		}
		exists = true
		switch {
		case h.Rrtype == q.Qtype:
			m.Answer = append(m.Answer, dns.Copy(rr))
		case h.Rrtype == dns.TypeCNAME:
			cname = rr
		}
	}
	switch {
	case !exists:
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{dns.Copy(soa)}
	case len(m.Answer) == 0 && cname != nil:
		m.Answer = []dns.RR{dns.Copy(cname)}
	case len(m.Answer) == 0:
		m.Ns = []dns.RR{dns.Copy(soa)}
	}
	m.AuthenticatedData = s.secure[name]
	if udp && s.truncate[name] {
		m.Truncated = true
		m.Answer = nil
	}
}

// Blackhole returns the address of a UDP socket that reads questions and
// never answers, for timeout tests. It closes when the test ends.
func Blackhole(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}
