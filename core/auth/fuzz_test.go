package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/queue"
)

func FuzzParseTags(f *testing.F) {
	for _, s := range []string{"v=DKIM1; k=rsa; p=AAAA", "a=b;", "=x", "a==b; a=c", "v=1; h=from : to"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := ParseTags(s)
		if err == nil {
			for k := range tags {
				if !validTagName(k) {
					t.Fatalf("bad name %q accepted", k)
				}
			}
		}
	})
}

func FuzzParseKey(f *testing.F) {
	_, p, _ := GenerateKey("ed25519", 0)
	f.Add(p)
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKey(data)
		if err == nil && k == nil {
			t.Fatal("nil key without an error")
		}
	})
}

func FuzzServID(f *testing.F) {
	f.Add("mx.test; spf=pass smtp.mailfrom=a.example")
	f.Add("  mx.test (comment) ; none")
	f.Fuzz(func(t *testing.T, v string) {
		id := ServID(v)
		if strings.ContainsAny(id, ";\r\n") && !strings.Contains(v, id) {
			t.Fatalf("id %q not from %q", id, v)
		}
	})
}

// noDNS answers every question with "no such name".
type noDNS struct{}

func (noDNS) LookupMX(context.Context, string) ([]dns.MX, error) { return nil, notFound }
func (noDNS) LookupHost(context.Context, string) ([]netip.Addr, error) {
	return nil, notFound
}
func (noDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	if strings.HasPrefix(name, "s._domainkey.") {
		return []string{"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}, nil
	}
	return nil, notFound
}
func (noDNS) LookupPTR(context.Context, netip.Addr) ([]string, error) { return nil, notFound }

var notFound = &dns.LookupError{Kind: dns.NotFound, Err: errors.New("NXDOMAIN")}

// FuzzVerify feeds hostile messages (broken signatures, odd headers) to
// the whole check: it must end, with results, never a panic.
func FuzzVerify(f *testing.F) {
	f.Add("DKIM-Signature: v=1; a=ed25519-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AAAA\r\nFrom: a@x.example\r\n\r\nbody\r\n")
	f.Add("DKIM-Signature: v=1; a=rsa-sha256; l=99999; d=; s=\r\nFrom: <>\r\nFrom: b@y\r\n\r\n")
	f.Add("ARC-Seal: i=1; cv=none; a=ed25519-sha256; d=x.example; s=s; b=AAAA\r\nARC-Message-Signature: i=1; a=ed25519-sha256; c=relaxed/relaxed; d=x.example; s=s; h=from; bh=AAAA; b=AAAA\r\nARC-Authentication-Results: i=1; x.example; none\r\nFrom: a@x.example\r\n\r\nbody\r\n")
	f.Add("ARC-Seal: i=51; cv=pass\r\nARC-Seal: i=2; cv=fail\r\nFrom: a@x.example\r\n\r\n")
	v := &Verifier{Resolver: noDNS{}, AuthservID: "mx.test", Timeout: time.Second}
	f.Fuzz(func(t *testing.T, msg string) {
		head, body, _ := strings.Cut(msg, "\r\n\r\n")
		h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(head + "\r\n\r\n")))
		if err != nil {
			return
		}
		env := &queue.Envelope{Sender: "a@x.example", Client: queue.Client{Addr: "192.0.2.1", Helo: "x.example"}}
		res := v.Check(context.Background(), env, &h, strings.NewReader(body))
		v.Stamp(&h, res)
		if len(h.Values("Authentication-Results")) == 0 {
			t.Fatal("no Authentication-Results")
		}
	})
}

// FuzzBodyHasher compares the ARC body hashes with go-msgauth's DKIM
// signer, in both canonical forms.
func FuzzBodyHasher(f *testing.F) {
	for _, s := range []string{"", "\r\n", "a\r\n\r\n\r\n", " C \r\nD \t E\r\n\r\n", "no newline", "x\n y \t\r\n\t\r\n"} {
		f.Add(s)
	}
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	f.Fuzz(func(t *testing.T, body string) {
		body = strings.ReplaceAll(strings.ReplaceAll(body, "\r", ""), "\n", "\r\n") // CRLF only, as cleanup makes it
		bh := newBodyHasher()
		bh.Write([]byte(body))
		simple, relaxed := bh.sums()
		for c, want := range map[dkim.Canonicalization][]byte{dkim.CanonicalizationSimple: simple, dkim.CanonicalizationRelaxed: relaxed} {
			var out bytes.Buffer
			err := dkim.Sign(&out, strings.NewReader("From: a@b.example\r\n\r\n"+body), &dkim.SignOptions{Domain: "b.example", Selector: "s",
				Signer: key, BodyCanonicalization: c})
			if err != nil {
				t.Skip()
			}
			got := out.String()
			i := strings.Index(got, "bh=")
			if i < 0 {
				t.Fatal("no bh=")
			}
			bhv := got[i+3:]
			bhv = bhv[:strings.IndexByte(bhv, ';')]
			if bhv != base64.StdEncoding.EncodeToString(want) {
				t.Fatalf("%s body %q: go-msgauth %s, ours %s", c, body, bhv, base64.StdEncoding.EncodeToString(want))
			}
		}
	})
}
