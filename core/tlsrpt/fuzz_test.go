package tlsrpt

import (
	"strings"
	"testing"
)

// FuzzParseRecord: the _smtp._tls reader never panics, and what it
// accepts is only plain addresses and https URIs.
func FuzzParseRecord(f *testing.F) {
	f.Add("v=TLSRPTv1; rua=mailto:tls@example.test,https://rpt.example.test/x")
	f.Add("v=TLSRPTv1;rua=mailto:a%40b@c;x=y;")
	f.Fuzz(func(t *testing.T, txt string) {
		r, err := ParseRecord([]string{txt})
		if err != nil {
			return
		}
		for _, a := range r.Mailto {
			if !plainAddress(a) {
				t.Fatalf("address %q accepted", a)
			}
		}
		for _, u := range r.HTTPS {
			if !strings.HasPrefix(strings.ToLower(u), "https://") {
				t.Fatalf("URI %q accepted", u)
			}
		}
	})
}
