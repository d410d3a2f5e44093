package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// The RFC 6376 / RFC 8463 example message.
const exampleHeader = "From: Joe SixPack <joe@football.example.com>\r\n" +
	"To: Suzie Q <suzie@shopping.example.net>\r\n" +
	"Subject: Is dinner ready?\r\n" +
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" +
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"

const exampleBody = "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n"

func parseHeader(t testing.TB, s string) *textproto.Header {
	h, err := textproto.ReadHeader(bufioReader(s + "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return &h
}

// signed signs the example with keys and returns the whole message.
func signed(t testing.TB, s *Signer, keys []*Key) string {
	t.Helper()
	h := parseHeader(t, exampleHeader)
	sigs, err := s.Sign(context.Background(), keys, h, strings.NewReader(exampleBody))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for i := len(sigs) - 1; i >= 0; i-- {
		h.AddRaw([]byte(sigs[i]))
	}
	textproto.WriteHeader(&b, *h)
	b.WriteString(exampleBody)
	return b.String()
}

// verifyWith checks msg with the library verifier against records.
func verifyWith(t testing.TB, msg string, records map[string]string) []*dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(strings.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if r, ok := records[name]; ok {
				return []string{r}, nil
			}
			return nil, fmt.Errorf("no record %s", name)
		}})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func record(t testing.TB, k crypto.Signer) string {
	r, err := PublicRecord(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSignBothKeyTypesVerify(t *testing.T) {
	rsaKey, _, _ := GenerateKey("rsa", 2048)
	edKey := rfc8463Key(t)
	keys := []*Key{{Domain: "football.example.com", Selector: "rsa", Signer: rsaKey},
		{Domain: "football.example.com", Selector: "brisbane", Signer: edKey}}
	msg := signed(t, &Signer{}, keys)
	vs := verifyWith(t, msg, map[string]string{
		"rsa._domainkey.football.example.com":      record(t, rsaKey),
		"brisbane._domainkey.football.example.com": record(t, edKey),
	})
	if len(vs) != 2 {
		t.Fatalf("%d verifications", len(vs))
	}
	for _, v := range vs {
		if v.Err != nil {
			t.Errorf("%s: %v", v.Domain, v.Err)
		}
	}
	for _, want := range []string{"a=rsa-sha256", "a=ed25519-sha256", "c=relaxed/relaxed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("no %s in\n%s", want, msg)
		}
	}
	if strings.Contains(msg, " l=") || strings.Contains(msg, ";l=") {
		t.Errorf("l= used:\n%s", msg)
	}
	// h= lists the present fields and one From more (oversigning).
	hk := strings.ToLower(strings.Join(vs[0].HeaderKeys, ":"))
	if hk != "from:subject:date:to:message-id:from" {
		t.Errorf("h=%s", hk)
	}
}

// RFC 8463 appendix A.3 signs the example with relaxed/relaxed; the body
// hash is a known answer, and ed25519 signatures of ours verify with the
// RFC's published key record.
func TestSignRFC8463KnownAnswer(t *testing.T) {
	key := &Key{Domain: "football.example.com", Selector: "brisbane", Signer: rfc8463Key(t)}
	msg := signed(t, &Signer{}, []*Key{key})
	if !strings.Contains(msg, "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=") {
		t.Fatalf("body hash differs from RFC 8463:\n%s", msg)
	}
	vs := verifyWith(t, msg, map[string]string{
		"brisbane._domainkey.football.example.com": "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="})
	if vs[0].Err != nil {
		t.Fatal(vs[0].Err)
	}
}

func TestSignedChangeBreaks(t *testing.T) {
	key := &Key{Domain: "football.example.com", Selector: "brisbane", Signer: rfc8463Key(t)}
	msg := signed(t, &Signer{}, []*Key{key})
	rec := map[string]string{"brisbane._domainkey.football.example.com": record(t, key.Signer)}
	for name, tampered := range map[string]string{
		"body":        strings.Replace(msg, "hungry", "angry", 1),
		"second From": strings.Replace(msg, "To: Suzie", "From: evil@attacker.example\r\nTo: Suzie", 1),
	} {
		if vs := verifyWith(t, tampered, rec); vs[0].Err == nil {
			t.Errorf("%s: still verifies", name)
		}
	}
	// Relaxed canonicalisation tolerates whitespace changes.
	relaxed := strings.Replace(msg, "Subject: Is dinner ready?", "Subject:  Is   dinner ready? ", 1)
	if vs := verifyWith(t, relaxed, rec); vs[0].Err != nil {
		t.Errorf("whitespace: %v", vs[0].Err)
	}
}

func TestOriginating(t *testing.T) {
	nets := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	for _, c := range []struct {
		client queue.Client
		want   bool
	}{
		{queue.Client{Proto: "LOCAL"}, true},
		{queue.Client{Proto: "ESMTPSA", Addr: "203.0.113.9", AuthUser: "joe"}, true},
		{queue.Client{Proto: "ESMTP", Addr: "192.0.2.7"}, true},
		{queue.Client{Proto: "ESMTP", Addr: "::ffff:192.0.2.7"}, true},
		{queue.Client{Proto: "ESMTP", Addr: "203.0.113.9"}, false},
		{queue.Client{Proto: "ESMTP", Addr: ""}, false},
	} {
		if got := IsOriginating(&queue.Envelope{Client: c.client}, nets); got != c.want {
			t.Errorf("%+v: %v", c.client, got)
		}
	}
}

func TestPlan(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, dir+"/a.pem", "ed25519")
	writeKey(t, dir+"/p.pem", "ed25519")
	k, err := NewKeyring(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	k.entries = append(k.entries, configEntry("football.example.com", "s1", dir+"/a.pem"),
		configEntry("provider.example", "p1", dir+"/p.pem"))
	s := &Signer{Keys: k}
	h := parseHeader(t, exampleHeader)
	local := &queue.Envelope{Client: queue.Client{Proto: "LOCAL"}}
	relayed := &queue.Envelope{Client: queue.Client{Proto: "ESMTP", Addr: "203.0.113.1"}}
	if keys, err := s.Plan(local, h, nil); err != nil || len(keys) != 1 || keys[0].Selector != "s1" {
		t.Fatalf("default: %v %v", keys, err)
	}
	if keys, _ := s.Plan(relayed, h, nil); len(keys) != 0 {
		t.Fatalf("relayed mail signed by default: %v", keys)
	}
	choice := &policy.DKIMChoice{Requests: []policy.SignRequest{{Domain: "football.example.com"},
		{Domain: "provider.example", Selector: "p9", Key: dir + "/p.pem"}}}
	keys, err := s.Plan(relayed, h, choice)
	if err != nil || len(keys) != 2 || keys[1].Selector != "p9" || keys[1].Domain != "provider.example" {
		t.Fatalf("chosen: %v %v", keys, err)
	}
	if keys, err := s.Plan(local, h, &policy.DKIMChoice{}); err != nil || len(keys) != 0 {
		t.Fatalf("none chosen: %v %v", keys, err)
	}
	if _, err := s.Plan(local, h, &policy.DKIMChoice{Requests: []policy.SignRequest{{Domain: "nokey.example"}}}); err == nil {
		t.Fatal("a request without a key is not an error")
	}
}

func bufioReader(s string) *bufioR { return newBufioR(io.Reader(strings.NewReader(s))) }

// RFC 6376 section 3.4.5: the canonicalisation example. Its relaxed body
// is " C\r\nD E\r\n"; a signature made here carries that body's hash, and
// still verifies after the whitespace changes relaxed header
// canonicalisation forgives ("A: X" and "a:X" are the same field).
func TestRelaxedCanonicalisationRFC6376Example(t *testing.T) {
	header := "A: X\r\nB : Y\t\r\n\tZ  \r\nFrom: joe@football.example.com\r\n"
	body := " C \r\nD \t E\r\n\r\n\r\n"
	sum := sha256.Sum256([]byte(" C\r\nD E\r\n"))
	wantBH := "bh=" + base64.StdEncoding.EncodeToString(sum[:])
	key := &Key{Domain: "football.example.com", Selector: "brisbane", Signer: rfc8463Key(t)}
	s := &Signer{Headers: []string{"A", "B", "From"}}
	h := parseHeader(t, header)
	sigs, err := s.Sign(context.Background(), []*Key{key}, h, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sigs[0], wantBH) {
		t.Fatalf("relaxed body hash: want %s in\n%s", wantBH, sigs[0])
	}
	msg := sigs[0] + "a:X\r\nb:Y Z\r\nFrom: joe@football.example.com\r\n\r\n" + body
	vs := verifyWith(t, msg, map[string]string{"brisbane._domainkey.football.example.com": record(t, key.Signer)})
	if vs[0].Err != nil {
		t.Fatalf("relaxed header canonicalisation: %v\n%s", vs[0].Err, msg)
	}
}
