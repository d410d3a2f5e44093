package auth

import (
	"bufio"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"

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
