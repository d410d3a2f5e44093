package lmtp

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/moonpost/moonpost/core/deliver"
)

// The lmtp agent runs the smtp package's client: these tests cover what
// LMTP gained from it (DSN parameters, 8BITMIME/SMTPUTF8 checks,
// STARTTLS, connection reuse).

func agentWith(t *testing.T, tune func(*Config)) *Agent {
	t.Helper()
	cfg := Config{Lhlo: "client.test", ConnectTimeout: 2 * time.Second,
		CommandTimeout: 2 * time.Second, DataTimeout: 2 * time.Second}
	if tune != nil {
		tune(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func unixPeer(t *testing.T, b *backend, tune ...func(*gosmtp.Server)) string {
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, b, tune...)
	return "unix:" + sock
}

func TestDSNParametersOverLMTP(t *testing.T) {
	b := &backend{}
	hop := unixPeer(t, b, func(s *gosmtp.Server) { s.EnableDSN = true })
	req := request(hop)
	req.Ret, req.EnvID = "full", "id+1=2"
	req.Recipients = []deliver.Recipient{{Addr: "a@x.test", Notify: "failure,delay", ORcpt: "rfc822;orig@x.test"}}
	want(t, agentWith(t, nil).Deliver(context.Background(), req), 0, 250, "2.0.0")
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.mailOpts) != 1 || b.mailOpts[0].Return != gosmtp.DSNReturnFull || b.mailOpts[0].EnvelopeID != "id+1=2" ||
		b.mailOpts[0].Size != int64(len(msg)) {
		t.Errorf("MAIL parameters = %+v", b.mailOpts)
	}
	if len(b.rcptOpts) != 1 || !reflect.DeepEqual(b.rcptOpts[0].Notify, []gosmtp.DSNNotify{"FAILURE", "DELAY"}) ||
		b.rcptOpts[0].OriginalRecipient != "orig@x.test" || b.rcptOpts[0].OriginalRecipientType != gosmtp.DSNAddressTypeRFC822 {
		t.Errorf("RCPT parameters = %+v", b.rcptOpts)
	}
}

// Without DSN offered, no DSN parameter is sent (the server would
// refuse the command).
func TestNoDSNParametersWhenNotOffered(t *testing.T) {
	b := &backend{}
	hop := unixPeer(t, b)
	req := request(hop)
	req.Ret = "full"
	req.Recipients = []deliver.Recipient{{Addr: "a@x.test", Notify: "never"}}
	want(t, agentWith(t, nil).Deliver(context.Background(), req), 0, 250, "2.0.0")
}

func TestSMTPUTF8And8BitChecksOverLMTP(t *testing.T) {
	b := &backend{}
	hop := unixPeer(t, b) // offers 8BITMIME, not SMTPUTF8
	req := request(hop, "jörg@x.test")
	req.SMTPUTF8 = true
	want(t, agentWith(t, nil).Deliver(context.Background(), req), 0, 550, "5.6.7")

	req = request(hop, "a@x.test")
	req.BodyType = "8BITMIME"
	want(t, agentWith(t, nil).Deliver(context.Background(), req), 0, 250, "2.0.0")
	b.mu.Lock()
	body := b.mailOpts[len(b.mailOpts)-1].Body
	b.mu.Unlock()
	if body != gosmtp.Body8BitMIME {
		t.Errorf("BODY = %q, want 8BITMIME", body)
	}
}

// selfSigned makes a certificate for name and a pool that trusts it.
func selfSigned(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestSTARTTLSOverLMTP(t *testing.T) {
	cert, pool := selfSigned(t, "localhost")
	b := &backend{}
	hop := unixPeer(t, b, func(s *gosmtp.Server) { s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}} })
	// The default policy is none: no STARTTLS although it is offered.
	want(t, agentWith(t, func(c *Config) { c.MaxCached = -1 }).Deliver(context.Background(), request(hop, "a@x.test")), 0, 250, "2.0.0")
	// verify: STARTTLS, with the certificate verified.
	a := agentWith(t, func(c *Config) { c.TLS = "verify"; c.TLSConfig = &tls.Config{RootCAs: pool} })
	want(t, a.Deliver(context.Background(), request(hop, "b@x.test")), 0, 250, "2.0.0")
	b.mu.Lock()
	sessions := append([]bool(nil), b.sessions...)
	got := b.got["b@x.test"]
	b.mu.Unlock()
	// go-smtp starts a new session after STARTTLS: plain, plain, TLS.
	if !reflect.DeepEqual(sessions, []bool{false, false, true}) {
		t.Errorf("sessions over TLS = %v, want [false false true]", sessions)
	}
	if got != msg {
		t.Errorf("content over TLS = %q", got)
	}
	// verify against an unknown certificate defers; encrypt takes it.
	bad := agentWith(t, func(c *Config) { c.TLS = "verify" })
	want(t, bad.Deliver(context.Background(), request(hop, "c@x.test")), 0, 451, "4.7.5")
	enc := agentWith(t, func(c *Config) { c.TLS = "encrypt" })
	want(t, enc.Deliver(context.Background(), request(hop, "d@x.test")), 0, 250, "2.0.0")
	for _, level := range []string{"sometimes", "dane", "dane-only"} {
		if _, err := New(Config{Lhlo: "c.test", TLS: level}); err == nil {
			t.Errorf("TLS policy %q accepted for LMTP", level)
		}
	}
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	mu sync.Mutex
	n  int
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.n++
		l.mu.Unlock()
	}
	return c, err
}

func (l *countingListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func TestConnectionReuseOverLMTP(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: raw}
	b := &backend{afterDot: map[string]*gosmtp.SMTPError{
		"full@x.test": {Code: 452, EnhancedCode: gosmtp.EnhancedCode{4, 2, 2}, Message: "over quota"}}}
	serve(t, ln, b)
	a := agentWith(t, nil)
	hop := "inet:" + raw.Addr().String()
	for i := 0; i < 3; i++ {
		res := a.Deliver(context.Background(), request(hop, "a@x.test", "full@x.test"))
		want(t, res, 0, 250, "2.0.0")
		want(t, res, 1, 452, "4.2.2")
	}
	if n := ln.count(); n != 1 {
		t.Errorf("%d connections for 3 deliveries, want 1", n)
	}
	// Reuse off: a connection each.
	off := agentWith(t, func(c *Config) { c.MaxCached = -1 })
	for i := 0; i < 2; i++ {
		want(t, off.Deliver(context.Background(), request(hop, "a@x.test")), 0, 250, "2.0.0")
	}
	if n := ln.count(); n != 3 {
		t.Errorf("%d connections in all, want 3", n)
	}
}

// rawLMTP answers LHLO (with PIPELINING), MAIL, RCPT and DATA, then
// after the final dot gives only the first recipient's reply and hangs
// up.
func rawLMTP(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		fmt.Fprint(c, "220 lmtp.test LMTP\r\n")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(line, "LHLO"):
				fmt.Fprint(c, "250-lmtp.test\r\n250 PIPELINING\r\n")
			case strings.HasPrefix(line, "DATA"):
				fmt.Fprint(c, "354 go ahead\r\n")
			case line == ".\r\n":
				fmt.Fprint(c, "250 2.0.0 <a@x.test> saved\r\n")
				return
			case strings.HasPrefix(line, "MAIL") || strings.HasPrefix(line, "RCPT"):
				fmt.Fprint(c, "250 2.1.0 ok\r\n")
			}
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "inet:" + ln.Addr().String()
}

func TestLostAfterDotDefersTheRest(t *testing.T) {
	hop := rawLMTP(t)
	res := agentWith(t, nil).Deliver(context.Background(), request(hop, "a@x.test", "b@x.test", "c@x.test"))
	want(t, res, 0, 250, "2.0.0")
	want(t, res, 1, 451, "4.4.2")
	want(t, res, 2, 451, "4.4.2")
}
