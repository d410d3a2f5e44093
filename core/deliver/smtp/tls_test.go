package smtp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// selfSigned makes a certificate for name and a pool trusting it.
func selfSigned(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// tlsPeer starts a go-smtp peer offering STARTTLS with a certificate
// for mx.example.test.
func tlsPeer(t *testing.T) (*backend, int, *x509.CertPool) {
	cert, pool := selfSigned(t, "mx.example.test")
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, func(s *gosmtp.Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	return b, portOf(ln), pool
}

const mxZone = "mx.example.test. 60 IN A 127.0.0.1"

func TestOpportunisticTLSAcceptsSelfSigned(t *testing.T) {
	b, port, _ := tlsPeer(t)
	e := newEnv(t, port, nil, mxZone)
	want(t, e.agent.Deliver(context.Background(), request("[mx.example.test]", "x@example.test")), 0, 250, "2.0.0", "")
	if _, msgs := b.snapshot(); len(msgs) != 1 || !msgs[0].tls {
		t.Fatalf("mail not sent over TLS: %+v", msgs)
	}
}

func TestTLSNoneStaysPlain(t *testing.T) {
	b, port, _ := tlsPeer(t)
	e := newEnv(t, port, func(c *Config) { c.TLS = TLSNone }, mxZone)
	want(t, e.agent.Deliver(context.Background(), request("[mx.example.test]", "x@example.test")), 0, 250, "2.0.0", "")
	if _, msgs := b.snapshot(); len(msgs) != 1 || msgs[0].tls {
		t.Fatalf("TLS used under policy none: %+v", msgs)
	}
}

func TestVerifyChecksCertificate(t *testing.T) {
	b, port, pool := tlsPeer(t)
	trusting := newEnv(t, port, func(c *Config) {
		c.TLS = TLSVerify
		c.TLSConfig = &tls.Config{RootCAs: pool}
	}, mxZone)
	res := trusting.agent.Deliver(context.Background(), request("[mx.example.test]", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", "")
	if !strings.HasSuffix(res[0].TLS, "verified=yes policy=verify") || !strings.HasPrefix(res[0].TLS, "TLSv1.3 TLS_") {
		t.Errorf("TLS outcome = %q", res[0].TLS)
	}

	untrusting := newEnv(t, port, func(c *Config) { c.TLS = TLSVerify }, mxZone)
	res = untrusting.agent.Deliver(context.Background(), request("[mx.example.test]", "x@example.test"))
	want(t, res, 0, 451, "4.7.5", "")
	if res[0].TLS != "failed policy=verify" {
		t.Errorf("TLS outcome of the failure = %q", res[0].TLS)
	}
	if _, msgs := b.snapshot(); len(msgs) != 1 {
		t.Fatalf("peer got %d messages, want only the verified one", len(msgs))
	}
}

// encrypt requires TLS but takes any certificate, as Postfix's encrypt.
func TestEncryptTakesUnverifiedCertificate(t *testing.T) {
	b, port, _ := tlsPeer(t)
	e := newEnv(t, port, func(c *Config) { c.TLS = TLSEncrypt }, mxZone)
	res := e.agent.Deliver(context.Background(), request("[mx.example.test]", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", "")
	if !strings.HasSuffix(res[0].TLS, "verified=no policy=encrypt") {
		t.Errorf("TLS outcome = %q", res[0].TLS)
	}
	if _, msgs := b.snapshot(); len(msgs) != 1 || !msgs[0].tls {
		t.Fatalf("mail not sent over TLS: %+v", msgs)
	}
}

func TestEncryptWithoutSTARTTLSDefers(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	e := newEnv(t, portOf(ln), func(c *Config) { c.TLS = TLSEncrypt })
	want(t, e.agent.Deliver(context.Background(), request("[127.0.0.1]", "x@example.test")), 0, 451, "4.7.4", "")
}

func TestOpportunisticTLSFallsBackToPlaintext(t *testing.T) {
	// The peer offers STARTTLS but then talks plain text: the handshake
	// fails, and the agent must retry without TLS.
	ln := listen(t, "127.0.0.1", 0)
	serveRaw(t, ln, rawPeer{greeting: "220 peer.test", caps: []string{"STARTTLS", "8BITMIME"}, brokenTLS: true})
	e := newEnv(t, portOf(ln), nil)
	want(t, e.agent.Deliver(context.Background(), request("[127.0.0.1]", "x@example.test")), 0, 250, "2.0.0", "")
	if e.dials.count() != 2 {
		t.Errorf("dials = %d, want 2 (TLS, then plaintext)", e.dials.count())
	}
}

// syncBuffer is a log sink safe for the agent's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A reply smuggled in after STARTTLS's 220, in the same packet, would
// be read as if it had come over TLS (the STARTTLS injection attack):
// the client refuses the session instead.
func TestSTARTTLSInjectionRefused(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	serveRaw(t, ln, rawPeer{greeting: "220 peer.test", caps: []string{"STARTTLS"}, reply: func(cmd string) string {
		if strings.EqualFold(cmd, "STARTTLS") {
			return "220 2.0.0 go ahead\r\n250 2.1.0 injected"
		}
		return ""
	}})
	var logs syncBuffer
	e := newEnv(t, portOf(ln), func(c *Config) {
		c.TLS = TLSEncrypt
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	want(t, e.agent.Deliver(context.Background(), request("[127.0.0.1]", "x@example.test")), 0, 451, "4.7.4", "")
	if !strings.Contains(logs.String(), "data after the STARTTLS reply") {
		t.Errorf("no injection refusal logged:\n%s", logs.String())
	}
}
