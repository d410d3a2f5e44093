package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"
	mdns "github.com/miekg/dns"

	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// fixture is a DNS server with SPF, DKIM and DMARC records for
// football.example.com, and a verifier that asks it.
type fixture struct {
	ns  *dnstest.Server
	v   *Verifier
	key *Key
}

func newFixture(t *testing.T, dmarcRecord string) *fixture {
	t.Helper()
	ns := dnstest.NewServer(t)
	key := &Key{Domain: "football.example.com", Selector: "brisbane", Signer: rfc8463Key(t)}
	ns.Add(t, zoneTXT("brisbane._domainkey.football.example.com", record(t, key.Signer)),
		`football.example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`)
	if dmarcRecord != "" {
		ns.Add(t, zoneTXT("_dmarc.football.example.com", dmarcRecord))
	}
	res := dns.New(dns.Config{Servers: []string{ns.Addr}, Timeout: 2 * time.Second, CacheSize: -1})
	return &fixture{ns: ns, key: key, v: &Verifier{Resolver: res, AuthservID: "mx.test", Sample: func() float64 { return 0 }, Log: slog.New(slog.DiscardHandler)}}
}

// check runs the verifier over msg (header and body) from client ip.
func (f *fixture) check(t *testing.T, ip, sender, msg string) (*policy.AuthResults, *textproto.Header) {
	t.Helper()
	head, body, _ := strings.Cut(msg, "\r\n\r\n")
	h := parseHeader(t, head+"\r\n")
	env := &queue.Envelope{Sender: sender, Client: queue.Client{Addr: ip, Helo: "mail.football.example.com", Proto: "ESMTP"}}
	if !f.v.Applies(env) {
		t.Fatal("inbound mail not checked")
	}
	res := f.v.Check(context.Background(), env, h, strings.NewReader(body))
	f.v.Stamp(h, res)
	return res, h
}

func TestVerifyAllPass(t *testing.T) {
	f := newFixture(t, "v=DMARC1; p=reject")
	msg := signed(t, &Signer{}, []*Key{f.key})
	res, h := f.check(t, "192.0.2.9", "joe@football.example.com", msg)
	if res.SPF != "pass" || len(res.DKIM) != 1 || res.DKIM[0] != (policy.DKIMResult{Domain: "football.example.com", Selector: "brisbane", Result: "pass"}) ||
		res.DMARC != (policy.DMARCResult{Result: "pass", Policy: "reject", Disposition: "none", Domain: "football.example.com"}) {
		t.Fatalf("%+v", res)
	}
	ar := h.Get("Authentication-Results")
	if res.SPFHelo != "none" || res.Helo != "mail.football.example.com" {
		t.Errorf("HELO: %q %q", res.SPFHelo, res.Helo)
	}
	for _, want := range []string{"mx.test;", "spf=pass smtp.mailfrom=football.example.com", "spf=none smtp.helo=mail.football.example.com", "dkim=pass header.d=football.example.com header.s=brisbane",
		"dmarc=pass header.from=football.example.com"} {
		if !strings.Contains(ar, want) {
			t.Errorf("Authentication-Results %q lacks %q", ar, want)
		}
	}
}

func TestVerifyFailures(t *testing.T) {
	f := newFixture(t, "v=DMARC1; p=reject")
	msg := signed(t, &Signer{}, []*Key{f.key})
	res, _ := f.check(t, "203.0.113.9", "joe@football.example.com", strings.Replace(msg, "hungry", "angry", 1))
	if res.SPF != "fail" || res.DKIM[0].Result != "fail" || res.DMARC.Result != "fail" || res.DMARC.Disposition != "reject" {
		t.Fatalf("%+v", res)
	}
	// SPF passes for a domain that is not the From domain: not aligned.
	f.ns.Add(t, `other.example. 300 IN TXT "v=spf1 +all"`)
	unsigned := exampleHeader + "\r\n" + exampleBody
	res, _ = f.check(t, "203.0.113.9", "bounce@other.example", unsigned)
	if res.SPF != "pass" || len(res.DKIM) != 0 || res.DMARC.Result != "fail" {
		t.Fatalf("unaligned SPF: %+v", res)
	}
}

func TestVerifyKeyProblems(t *testing.T) {
	f := newFixture(t, "")
	k := &Key{Domain: "football.example.com", Selector: "gone", Signer: f.key.Signer}
	res, _ := f.check(t, "192.0.2.9", "joe@football.example.com", signed(t, &Signer{}, []*Key{k}))
	if res.DKIM[0].Result != "permerror" || res.DKIM[0].Selector != "gone" || res.DMARC.Result != "none" {
		t.Fatalf("missing key: %+v", res)
	}
	f.ns.SetRcode("broken._domainkey.football.example.com", mdns.RcodeServerFailure)
	k.Selector = "broken"
	res, _ = f.check(t, "192.0.2.9", "joe@football.example.com", signed(t, &Signer{}, []*Key{k}))
	if res.DKIM[0].Result != "temperror" {
		t.Fatalf("SERVFAIL: %+v", res)
	}
}

func TestVerifyDNSTimeoutIsTemperror(t *testing.T) {
	f := newFixture(t, "")
	f.v.Resolver = dns.New(dns.Config{Servers: []string{dnstest.Blackhole(t)}, Timeout: 100 * time.Millisecond, Attempts: 1, CacheSize: -1})
	f.v.Timeout = 3 * time.Second
	start := time.Now()
	res, _ := f.check(t, "192.0.2.9", "joe@football.example.com", signed(t, &Signer{}, []*Key{f.key}))
	if res.SPF != "temperror" || res.DKIM[0].Result != "temperror" || res.DMARC.Result != "temperror" {
		t.Fatalf("%+v", res)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("a dead DNS held the check %v", d)
	}
}

func TestVerifyBoundsSignatures(t *testing.T) {
	f := newFixture(t, "")
	f.v.MaxSignatures = 3
	f.v.MaxLookups = 2
	keys := make([]*Key, 40)
	for i := range keys {
		keys[i] = &Key{Domain: "football.example.com", Selector: fmt.Sprintf("k%d", i), Signer: f.key.Signer}
	}
	before := f.ns.Queries()
	res, _ := f.check(t, "192.0.2.9", "joe@football.example.com", signed(t, &Signer{}, keys))
	if len(res.DKIM) != 3 {
		t.Fatalf("%d signatures verified", len(res.DKIM))
	}
	// SPF asks on its own (a TXT for MAIL FROM, one for HELO); DKIM and
	// DMARC share the budget of 2.
	if n := f.ns.Queries() - before; n > 4 {
		t.Fatalf("%d DNS questions", n)
	}
}

func TestStampRemovesForgedResults(t *testing.T) {
	h := parseHeader(t, "Authentication-Results: MX.test; dkim=pass header.d=bank.example\r\n"+
		"Authentication-Results: mx.test (garbled\r\n"+
		"Authentication-Results: upstream.example; spf=pass smtp.mailfrom=x.example\r\n"+
		"From: a@b.example\r\n")
	v := &Verifier{AuthservID: "mx.test"}
	v.Stamp(h, &policy.AuthResults{SPF: "none", DMARC: policy.DMARCResult{Result: "none", Domain: "b.example"}})
	ars := h.Values("Authentication-Results")
	if len(ars) != 2 || !strings.HasPrefix(ars[0], "mx.test; spf=none") || !strings.HasPrefix(ars[1], "upstream.example") {
		t.Fatalf("%q", ars)
	}
	if strings.Contains(strings.Join(ars, "\n"), "bank.example") {
		t.Fatal("forged result kept")
	}
}

func TestOriginatingMailIsNotVerified(t *testing.T) {
	v := &Verifier{}
	if v.Applies(&queue.Envelope{Client: queue.Client{Proto: "ESMTPSA", AuthUser: "u", Addr: "203.0.113.1"}}) {
		t.Fatal("authenticated submission checked")
	}
}

func TestVerifyGarbageRecords(t *testing.T) {
	f := newFixture(t, "v=DMARC1; p=bogus")
	f.ns.Add(t, zoneTXT("nob64._domainkey.football.example.com", "v=DKIM1; k=ed25519; p=!!!not-base64"),
		zoneTXT("revoked._domainkey.football.example.com", "v=DKIM1; k=ed25519; p="),
		zoneTXT("huge._domainkey.football.example.com", strings.Repeat("x=y; ", 60)),
		zoneTXT("wrongk._domainkey.football.example.com", "v=DKIM1; k=dsa; p=AAAA"))
	for _, sel := range []string{"nob64", "revoked", "huge", "wrongk"} {
		k := &Key{Domain: "football.example.com", Selector: sel, Signer: f.key.Signer}
		res, _ := f.check(t, "192.0.2.9", "joe@football.example.com", signed(t, &Signer{}, []*Key{k}))
		if res.DKIM[0].Result != "permerror" && res.DKIM[0].Result != "fail" {
			t.Errorf("%s: %+v", sel, res.DKIM[0])
		}
		if res.DMARC.Result != "permerror" {
			t.Errorf("%s: broken DMARC record: %+v", sel, res.DMARC)
		}
	}
	// A broken signature field and a huge one: results, not errors.
	msg := "DKIM-Signature: v=1; a=rsa-sha256; d=football.example.com; s=brisbane; h=from; bh=@@@; b=@@@\r\n" +
		"DKIM-Signature: v=1; " + strings.Repeat("z=1; ", 5000) + "\r\n" + exampleHeader + "\r\n" + exampleBody
	res, _ := f.check(t, "192.0.2.9", "joe@football.example.com", msg)
	if len(res.DKIM) != 2 || res.DKIM[0].Result != "permerror" || res.DKIM[1].Result != "permerror" {
		t.Fatalf("%+v", res.DKIM)
	}
}
