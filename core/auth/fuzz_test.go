package auth

import (
	"testing"
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
