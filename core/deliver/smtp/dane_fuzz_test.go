package smtp

import (
	"crypto/sha512"
	"crypto/x509"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/dns"
)

// FuzzDANEMatch feeds the DANE matcher a server certificate (DER, as a
// peer sends it) and one TLSA record (as a zone publishes it). It must
// never panic, must accept a DANE-EE record made from the certificate
// itself, and must refuse every record of an unusable kind.
func FuzzDANEMatch(f *testing.F) {
	c := newChain(f, "mx.example.test")
	f.Add(c.leaf.Raw, uint8(3), uint8(1), uint8(1), []byte{1, 2, 3})
	f.Add(c.leaf.Raw, uint8(2), uint8(0), uint8(0), c.ca.Raw)
	f.Add([]byte("not DER"), uint8(0), uint8(0), uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, der []byte, usage, sel, mtype uint8, data []byte) {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		certs := []*x509.Certificate{cert, cert}
		now := time.Unix(1_800_000_000, 0)
		rec := dns.TLSA{Usage: usage, Selector: sel, MatchingType: mtype, Data: data}
		usable := usableTLSA([]dns.TLSA{rec})
		if err := daneVerify(certs, usable, []string{"mx.example.test"}, now); err == nil && len(usable) == 0 {
			t.Fatal("no usable record, yet the certificate was accepted")
		}
		sum := sha512.Sum512(cert.RawSubjectPublicKeyInfo)
		own := dns.TLSA{Usage: 3, Selector: 1, MatchingType: 2, Data: sum[:]}
		if err := daneVerify(certs, usableTLSA([]dns.TLSA{rec, own}), nil, now); err != nil {
			t.Fatalf("the certificate's own DANE-EE record was refused: %v", err)
		}
	})
}

// The cost of authenticating a server certificate, per handshake.
func BenchmarkDANEVerify(b *testing.B) {
	c := newChain(b, "mx.example.test")
	certs := []*x509.Certificate{c.leaf, c.ca}
	now := time.Now()
	eeSum := sha512.Sum512(c.leaf.RawSubjectPublicKeyInfo)
	ee := []dns.TLSA{{Usage: 3, Selector: 1, MatchingType: 2, Data: eeSum[:]}}
	ta := []dns.TLSA{{Usage: 2, Selector: 0, MatchingType: 0, Data: c.ca.Raw}}
	pool := x509.NewCertPool()
	pool.AddCert(c.ca)
	b.Run("DANE-EE", func(b *testing.B) {
		for b.Loop() {
			if err := daneVerify(certs, ee, nil, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DANE-TA", func(b *testing.B) {
		for b.Loop() {
			if err := daneVerify(certs, ta, []string{"mx.example.test"}, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		h := hostTLS{level: TLSVerify, host: "mx.example.test"}
		for b.Loop() {
			if err := verifyPeer(h, certs, pool, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
