package mtasts

import (
	"strings"
	"testing"
)

// FuzzParsePolicy: the parser never panics, and what it accepts is a
// complete policy whose mx patterns match themselves (for host names)
// and whose lines parse again to the same policy.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(goodPolicy))
	f.Add([]byte("version: STSv1\nmode: none\nmax_age: 0\n"))
	f.Add([]byte("version: STSv1\nmode: testing\nmx: *.a.b\nmax_age: 31557600\nx: y\n"))
	f.Add([]byte("version:STSv1\r\n\r\nmode :enforce"))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePolicy(body)
		if err != nil {
			return
		}
		if p.Mode != Enforce && p.Mode != Testing && p.Mode != None {
			t.Fatalf("mode %q accepted", p.Mode)
		}
		if p.MaxAge < 0 || p.MaxAge > MaxAgeLimit || (len(p.MX) == 0 && p.Mode != None) {
			t.Fatalf("incomplete policy accepted: %+v", p)
		}
		for _, mx := range p.MX {
			if !strings.HasPrefix(mx, "*.") && !p.Match(mx) {
				t.Fatalf("pattern %q does not match itself", mx)
			}
		}
		again, err := ParsePolicy([]byte(strings.Join(p.Lines, "\n")))
		if err != nil || again.Mode != p.Mode || again.MaxAge != p.MaxAge || len(again.MX) != len(p.MX) {
			t.Fatalf("lines %q do not parse back: %v", p.Lines, err)
		}
	})
}

// FuzzParseRecord: the TXT reader never panics and only returns ids of
// 1 to 32 letters and digits.
func FuzzParseRecord(f *testing.F) {
	f.Add("v=STSv1; id=20160831085700Z;")
	f.Add("v=STSv1;id=a;;x=y")
	f.Fuzz(func(t *testing.T, txt string) {
		id, err := ParseRecord([]string{txt})
		if err == nil && !validID(id) {
			t.Fatalf("id %q accepted from %q", id, txt)
		}
	})
}
