package auth

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/dns"
)

// Per-message cost of signing and of verifying, by key type and size
// and by message size: go test -run '^$' -bench . ./core/auth

type benchKey struct {
	name   string
	signer crypto.Signer
}

func benchKeys(b *testing.B) []benchKey {
	var out []benchKey
	for _, c := range []struct {
		typ  string
		bits int
	}{{"rsa", 1024}, {"rsa", 2048}, {"rsa", 4096}, {"ed25519", 0}} {
		// Through ParseKey, as keys are loaded from files in production.
		_, pemKey, err := GenerateKey(c.typ, c.bits)
		if err != nil {
			b.Fatal(err)
		}
		k, err := ParseKey(pemKey)
		if err != nil {
			b.Fatal(err)
		}
		name := c.typ
		if c.bits > 0 {
			name = fmt.Sprintf("%s%d", c.typ, c.bits)
		}
		out = append(out, benchKey{name, k})
	}
	return out
}

func benchBody(size int) string {
	line := "The quick brown fox jumps over the lazy dog, again and again.\r\n"
	return strings.Repeat(line, size/len(line)+1)
}

func BenchmarkSign(b *testing.B) {
	s := &Signer{}
	for _, k := range benchKeys(b) {
		for _, size := range []int{4 << 10, 100 << 10} {
			body := benchBody(size)
			key := &Key{Domain: "example.com", Selector: "s1", Signer: k.signer}
			b.Run(fmt.Sprintf("%s/%dKiB", k.name, size>>10), func(b *testing.B) {
				h := parseHeader(b, exampleHeader)
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					if _, err := s.Sign(context.Background(), []*Key{key}, h, strings.NewReader(body)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// recordDNS answers the one key record from memory, so the benchmark
// measures verification, not DNS.
type recordDNS struct {
	noDNS
	rec string
}

func (r recordDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	if name == "s1._domainkey.example.com" {
		return []string{r.rec}, nil
	}
	return nil, notFound
}

var _ dns.Resolver = recordDNS{}

func BenchmarkVerify(b *testing.B) {
	for _, k := range benchKeys(b) {
		body := benchBody(4 << 10)
		key := &Key{Domain: "example.com", Selector: "s1", Signer: k.signer}
		h := parseHeader(b, exampleHeader)
		sigs, err := (&Signer{}).Sign(context.Background(), []*Key{key}, h, strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		h.AddRaw([]byte(sigs[0]))
		v := &Verifier{Resolver: recordDNS{rec: record(b, k.signer)}, AuthservID: "mx.test", Log: slog.New(slog.DiscardHandler)}
		b.Run(k.name+"/4KiB", func(b *testing.B) {
			for b.Loop() {
				res := v.checkDKIM(context.Background(), newLookups(v.Resolver, 20), h, strings.NewReader(body))
				if res[0].Result != "pass" {
					b.Fatal(res)
				}
			}
		})
	}
}
