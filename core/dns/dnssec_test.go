package dns

import (
	"context"
	"testing"
)

const tlsaRR = "_25._tcp.mx.sec.test. 60 IN TLSA 3 1 1 8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcfbcf286d"

func TestSecureFlagFollowsAD(t *testing.T) {
	srv, r, _ := newTest(t,
		"sec.test. 60 IN MX 10 mx.sec.test.", "mx.sec.test. 60 IN A 192.0.2.1", tlsaRR,
		"plain.test. 60 IN MX 10 mx.sec.test.")
	srv.Secure("sec.test", "mx.sec.test", "_25._tcp.mx.sec.test")
	sr := r.(SecureResolver)
	ctx := context.Background()
	if mxs, sec, err := sr.LookupMXSecure(ctx, "sec.test"); err != nil || !sec || hosts(mxs) != "mx.sec.test" {
		t.Errorf("sec.test MX = %v %v %v, want secure", mxs, sec, err)
	}
	if _, sec, err := sr.LookupMXSecure(ctx, "plain.test"); err != nil || sec {
		t.Errorf("plain.test MX secure=%v err=%v, want insecure", sec, err)
	}
	// mx.sec.test's AAAA answer (no data) also carries AD.
	if addrs, sec, err := sr.LookupHostSecure(ctx, "mx.sec.test"); err != nil || !sec || len(addrs) != 1 {
		t.Errorf("host = %v %v %v, want one secure address", addrs, sec, err)
	}
	recs, sec, err := sr.LookupTLSA(ctx, "_25._tcp.mx.sec.test")
	if err != nil || !sec || len(recs) != 1 {
		t.Fatalf("TLSA = %v %v %v", recs, sec, err)
	}
	if got := recs[0].String(); got != "3 1 1 8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcfbcf286d" {
		t.Errorf("TLSA = %s", got)
	}
	// The secure flag survives the cache.
	if _, sec, _ := sr.LookupTLSA(ctx, "_25._tcp.mx.sec.test"); !sec {
		t.Error("cached TLSA answer lost its secure flag")
	}
}

func TestTLSAAbsentIsNoError(t *testing.T) {
	srv, r, _ := newTest(t, "mx.sec.test. 60 IN A 192.0.2.1")
	srv.Secure("_25._tcp.mx.sec.test")
	recs, sec, err := r.(SecureResolver).LookupTLSA(context.Background(), "_25._tcp.mx.sec.test")
	if err != nil || len(recs) != 0 || !sec {
		t.Errorf("absent TLSA = %v secure=%v err=%v, want none, securely denied", recs, sec, err)
	}
}

func TestInsecureTLSAReported(t *testing.T) {
	_, r, _ := newTest(t, tlsaRR)
	recs, sec, err := r.(SecureResolver).LookupTLSA(context.Background(), "_25._tcp.mx.sec.test")
	if err != nil || len(recs) != 1 || sec {
		t.Errorf("TLSA without AD = %v secure=%v err=%v, want the record, insecure", recs, sec, err)
	}
}

// A CNAME chain is secure only when every link is.
func TestSecureNeedsEveryLink(t *testing.T) {
	srv, r, _ := newTest(t, "alias.test. 60 IN CNAME mx.sec.test.", "mx.sec.test. 60 IN A 192.0.2.1")
	srv.Secure("mx.sec.test")
	if _, sec, err := r.(SecureResolver).LookupHostSecure(context.Background(), "alias.test"); err != nil || sec {
		t.Errorf("insecure CNAME to a secure name: secure=%v err=%v, want insecure", sec, err)
	}
}
