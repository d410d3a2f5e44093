package auth

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"
)

// sealer is a Signer whose keyring holds one key for domain/selector.
func sealer(t *testing.T, f *fixture, domain, typ, servID string) *Signer {
	t.Helper()
	path := filepath.Join(t.TempDir(), domain+".pem")
	writeKey(t, path, typ)
	kr, err := NewKeyring([]KeySpec{{Domain: domain, Selector: "arc", Key: path}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := kr.Keys(domain, "arc")
	f.ns.Add(t, zoneTXT("arc._domainkey."+domain, record(t, k[0].Signer)))
	return &Signer{Keys: kr, ARCDomain: domain, ARCSelector: "arc", AuthservID: servID}
}

// seal runs s.Seal over msg and returns the sealed message.
func seal(t *testing.T, s *Signer, msg string) string {
	t.Helper()
	head, body, _ := strings.Cut(msg, "\r\n\r\n")
	h := parseHeader(t, head+"\r\n")
	if err := s.Seal(h, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	textproto.WriteHeader(&b, *h)
	return b.String() + body
}

func TestSealedChainsValidate(t *testing.T) {
	f := newFixture(t, "")
	msg := "Authentication-Results: mx1.test; spf=pass smtp.mailfrom=football.example.com\r\n" + exampleHeader + "\r\n" + exampleBody
	for _, typ := range []string{"rsa", "ed25519"} {
		hop1 := seal(t, sealer(t, f, "mx1-"+typ+".test", typ, "mx1.test"), msg)
		unfolded := strings.ReplaceAll(hop1, "\r\n\t", " ")
		res, _ := f.check(t, "192.0.2.9", "joe@football.example.com", hop1)
		if res.ARC != "pass" || !strings.Contains(hop1, "ARC-Seal: i=1; a=") || !strings.Contains(hop1, "cv=none") ||
			!strings.Contains(unfolded, "ARC-Authentication-Results: i=1; mx1.test; spf=pass") {
			t.Fatalf("%s hop 1: arc=%s\n%s", typ, res.ARC, hop1)
		}
		// The next hop checked it (arc=pass) and seals again.
		hop2 := seal(t, sealer(t, f, "mx2-"+typ+".test", typ, "mx2.test"), "Authentication-Results: mx2.test; arc=pass\r\n"+hop1)
		res, _ = f.check(t, "192.0.2.9", "joe@football.example.com", hop2)
		if res.ARC != "pass" || !strings.Contains(hop2, "ARC-Seal: i=2;") || !strings.Contains(hop2, "cv=pass") {
			t.Fatalf("%s hop 2: arc=%s\n%s", typ, res.ARC, hop2)
		}
		if want := []string{"mx1-" + typ + ".test", "mx2-" + typ + ".test"}; !slices.Equal(res.ARCSealers, want) {
			t.Fatalf("%s hop 2: sealers %q, want %q", typ, res.ARCSealers, want)
		}
		if res, _ := f.check(t, "192.0.2.9", "joe@football.example.com", strings.Replace(hop2, "hungry", "angry", 1)); res.ARC != "fail" || res.ARCSealers != nil {
			t.Fatalf("%s: a changed body still validates", typ)
		}
	}
}

func TestSealWithoutKeyFails(t *testing.T) {
	kr, _ := NewKeyring(nil, nil)
	s := &Signer{Keys: kr, ARCDomain: "none.test", ARCSelector: "arc", AuthservID: "mx.test"}
	h := parseHeader(t, exampleHeader)
	if err := s.Seal(h, strings.NewReader(exampleBody)); err == nil || h.Has("ARC-Seal") {
		t.Fatalf("sealed without a key: %v", err)
	}
}
