package dns

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzAnswer feeds arbitrary DNS messages to the code that walks answer
// sections: it must not panic, and CNAME walking must stay bounded.
func FuzzAnswer(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("a.test.", dns.TypeMX)
	for _, z := range []string{
		"a.test. 60 IN CNAME b.test.", "b.test. 60 IN CNAME a.test.",
		"b.test. 60 IN MX 0 .", "a.test. 60 IN MX 10 mx.test.",
	} {
		rr, _ := dns.NewRR(z)
		m.Answer = append(m.Answer, rr)
	}
	seed, _ := m.Pack()
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := new(dns.Msg)
		if msg.Unpack(data) != nil || len(msg.Question) == 0 {
			return
		}
		q := msg.Question[0]
		rrs, _, used, _ := extract(msg, q.Name, q.Qtype, maxCNAME)
		if used > maxCNAME+1 {
			t.Fatalf("walked %d links", used)
		}
		mxs, null := mxRecords(rrs)
		if null && len(mxs) > 0 {
			t.Fatal("null MX with hosts")
		}
		_ = negTTL(msg)
	})
}

// FuzzToASCII checks name conversion never panics and only yields names
// the wire format accepts.
func FuzzToASCII(f *testing.F) {
	for _, s := range []string{"example.com", "Bücher.test.", "", ".", "a..b", "_dmarc.x", "xn--"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := toASCII(s)
		if err != nil {
			return
		}
		if _, ok := dns.IsDomainName(a); !ok || !isASCII(a) {
			t.Fatalf("toASCII(%q) = %q", s, a)
		}
	})
}
