package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Scenario 15b: the daemon applies the stress-mode and anvil keys of
// [smtpd]: a client over client_connection_rate_limit gets 421 4.7.0
// (client_event_limit_exceptions spares 127.0.0.1), and at 80% of
// max_connections idle clients are cut off after stress_idle_timeout
// instead of idle_timeout.
func TestT15StressLimits(t *testing.T) {
	d := newDaemon(t, `
[smtpd]
max_connections = 5
idle_timeout = "300s"
stress_idle_timeout = "1s"
client_connection_rate_limit = 2
client_event_limit_exceptions = ["127.0.0.1"]`)
	d.start()

	greet := func(src string) (string, *bufio.Reader, func()) {
		t.Helper()
		c, err := dialFrom(src, d.addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		return firstLine(c, br), br, func() { c.Close() }
	}
	for i := 0; i < 2; i++ {
		line, _, done := greet("127.0.0.2")
		done()
		if !strings.HasPrefix(line, "220 ") {
			t.Fatalf("connection %d from 127.0.0.2: %q", i+1, line)
		}
	}
	line, _, done := greet("127.0.0.2")
	done()
	if !strings.HasPrefix(line, "421 4.7.0") {
		t.Errorf("third connection from 127.0.0.2 in a minute: %q, want 421 4.7.0", line)
	}
	d.waitLog("Connection rate limit exceeded: 3 from 127.0.0.2", 1)

	// Four idle clients from the exempt address: stress mode.
	type idle struct {
		br   *bufio.Reader
		done func()
	}
	var idles []idle
	for i := 0; i < 4; i++ {
		line, br, done := greet("127.0.0.1")
		defer done()
		if !strings.HasPrefix(line, "220 ") {
			t.Fatalf("exempt connection %d: %q", i+1, line)
		}
		idles = append(idles, idle{br, done})
	}
	start := time.Now()
	for i, c := range idles {
		l, err := c.br.ReadString('\n')
		if !strings.HasPrefix(l, "421 4.4.2") {
			t.Errorf("idle client %d under stress: %q %v, want 421 4.4.2", i+1, l, err)
		}
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("idle clients cut off after %v, not stress_idle_timeout", took)
	}
	d.waitLog("stress mode on", 1)
}

// Scenario 15c: client_auth_failure_rate_limit counts failed AUTH per
// client across sessions; over it, even the right password gets 421
// 4.7.0. client_event_limit_exceptions = [] applies it to loopback too.
func TestT15AuthFailureRateLimit(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir)
	pw := filepath.Join(dir, "passwd")
	sub := freePort(t)
	d := newDaemon(t, fmt.Sprintf(`
[smtpd]
submission_listen = [%q]
password_file = %q
tls_cert = %q
tls_key = %q
client_auth_failure_rate_limit = 2
client_event_limit_exceptions = []`, sub, pw, cert, key))
	code, line := d.run("secret\n", "passwd", "alice")
	if code != 0 {
		t.Fatalf("moonpost passwd: %d %s", code, line)
	}
	if err := os.WriteFile(pw, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	d.start()

	auth := func(pass string) error {
		t.Helper()
		c, err := smtp.Dial(sub)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
			t.Fatal(err)
		}
		return c.Auth(smtp.PlainAuth("", "alice", pass, "127.0.0.1"))
	}
	for i := 0; i < 2; i++ {
		if err := auth("wrong"); replyCode(err) != "535 5.7.8" {
			t.Fatalf("wrong password %d: %v, want 535", i+1, err)
		}
	}
	if err := auth("secret"); replyCode(err) != "421 4.7.0" {
		t.Errorf("right password after 2 failures: %v, want 421 4.7.0", err)
	}
	d.waitLog("AUTH failure rate limit exceeded from unknown[127.0.0.1]", 1)
}

// replyCode is the code and enhanced code of an SMTP error reply.
func replyCode(err error) string {
	var te *textproto.Error
	if !errors.As(err, &te) {
		return fmt.Sprint(err)
	}
	enh, _, _ := strings.Cut(te.Msg, " ")
	return fmt.Sprintf("%d %s", te.Code, enh)
}

// writeTestCert writes a self-signed certificate and key for 127.0.0.1.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
