package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/moonpost/moonpost/core/dns/dnstest"
)

// tlsSink is a sink offering STARTTLS with a fresh self-signed
// certificate; it returns the certificate's public key, for TLSA.
func tlsSink(t *testing.T, host string) (*sink, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sink.test"}, DNSNames: []string{"sink.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	s := &sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s, c: c}, nil }))
	srv.Domain = "sink.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr, s.srv = l.Addr().String(), srv
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s, cert.RawSubjectPublicKeyInfo
}

// Scenario 33: DANE. With smtp.dns_support_level = "dnssec" and a
// validating resolver (the test server sets AD), mail goes to the MX
// whose certificate matches its TLSA record, and waits for the one
// whose does not; the delivery lines say so.
func TestT33DANE(t *testing.T) {
	s, spki := tlsSink(t, "127.0.0.6")
	sum := sha256.Sum256(spki)
	wrong := sha256.Sum256([]byte("another key"))
	ns := dnstest.NewServer(t)
	ns.Add(t,
		"good.test. 300 IN MX 10 mx.good.test.", "mx.good.test. 300 IN A 127.0.0.6",
		"bad.test. 300 IN MX 10 mx.bad.test.", "mx.bad.test. 300 IN A 127.0.0.6",
		fmt.Sprintf("_%s._tcp.mx.good.test. 300 IN TLSA 3 1 1 %x", s.port(), sum),
		fmt.Sprintf("_%s._tcp.mx.bad.test. 300 IN TLSA 3 1 1 %x", s.port(), wrong),
	)
	ns.Secure("good.test", "mx.good.test", "_"+s.port()+"._tcp.mx.good.test",
		"bad.test", "mx.bad.test", "_"+s.port()+"._tcp.mx.bad.test")
	d := newDaemon(t, fmt.Sprintf("[smtp]\ntls_security_level = \"dane\"\ndns_support_level = \"dnssec\"\nport = %s\n[dns]\nservers = [%q]", s.port(), ns.Addr))
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	for _, to := range []string{"bob@good.test", "eve@bad.test"} {
		if code, text := c.message("alice@local.test", []string{to}, "Subject: t33\r\n\r\nDANE"); code != 250 {
			t.Fatalf("%s: %d %s", to, code, text)
		}
	}
	msgs := waitSink(t, d, s, 1)
	if len(msgs) != 1 || msgs[0].To[0] != "bob@good.test" {
		t.Fatalf("sink got %+v", msgs)
	}
	d.waitLog("to=<eve@bad.test>", 1)
	logs := d.logs()
	var good, bad string
	for _, l := range strings.Split(logs, "\n") {
		switch {
		case strings.Contains(l, "to=<bob@good.test>"):
			good = l
		case strings.Contains(l, "to=<eve@bad.test>"):
			bad = l
		}
	}
	if !strings.Contains(good, "status=sent") || !strings.Contains(good, "verified=yes policy=dane") || !strings.Contains(good, "tls=TLSv1.3") {
		t.Errorf("good.test line: %s", good)
	}
	if !strings.Contains(bad, "status=deferred") || !strings.Contains(bad, "dsn=4.7.5") || !strings.Contains(bad, "tls=failed policy=dane") {
		t.Errorf("bad.test line: %s", bad)
	}
	if len(s.received()) != 1 {
		t.Errorf("the mismatching MX got mail")
	}
}
