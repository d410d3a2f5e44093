package auth

import (
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dmarc"
)

func TestOrgDomain(t *testing.T) {
	for in, want := range map[string]string{
		"mail.example.com": "example.com", "example.com": "example.com", "a.b.example.co.uk": "example.co.uk",
		"Example.COM.": "example.com", "com": "com",
	} {
		if got := OrgDomain(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestEvaluateDMARC(t *testing.T) {
	cases := []struct {
		name, record, at string
		in               dmarcInput
		sample           float64
		result, policy   string
		disposition      string
	}{
		{"dkim aligned relaxed", "v=DMARC1; p=reject", "example.com",
			dmarcInput{From: "example.com", DKIMPass: []string{"mail.example.com"}}, 0, "pass", "reject", "none"},
		{"dkim strict subdomain", "v=DMARC1; p=reject; adkim=s", "example.com",
			dmarcInput{From: "example.com", DKIMPass: []string{"mail.example.com"}}, 0, "fail", "reject", "reject"},
		{"spf aligned relaxed", "v=DMARC1; p=quarantine", "example.com",
			dmarcInput{From: "example.com", SPF: "pass", SPFDomain: "bounces.example.com"}, 0, "pass", "quarantine", "none"},
		{"spf strict", "v=DMARC1; p=quarantine; aspf=s", "example.com",
			dmarcInput{From: "example.com", SPF: "pass", SPFDomain: "bounces.example.com"}, 0, "fail", "quarantine", "quarantine"},
		{"spf softfail does not count", "v=DMARC1; p=reject", "example.com",
			dmarcInput{From: "example.com", SPF: "softfail", SPFDomain: "example.com"}, 0, "fail", "reject", "reject"},
		{"other org", "v=DMARC1; p=reject", "example.com",
			dmarcInput{From: "example.com", SPF: "pass", SPFDomain: "example.net", DKIMPass: []string{"example.org"}}, 0, "fail", "reject", "reject"},
		{"subdomain policy", "v=DMARC1; p=reject; sp=quarantine", "example.com",
			dmarcInput{From: "news.example.com"}, 0, "fail", "quarantine", "quarantine"},
		{"sp not for the domain itself", "v=DMARC1; p=reject; sp=none", "example.com",
			dmarcInput{From: "example.com"}, 0, "fail", "reject", "reject"},
		{"pct sampled in", "v=DMARC1; p=reject; pct=50", "example.com",
			dmarcInput{From: "example.com"}, 0.2, "fail", "reject", "reject"},
		{"pct sampled out: reject becomes quarantine", "v=DMARC1; p=reject; pct=50", "example.com",
			dmarcInput{From: "example.com"}, 0.7, "fail", "reject", "quarantine"},
		{"pct sampled out: quarantine becomes none", "v=DMARC1; p=quarantine; pct=0", "example.com",
			dmarcInput{From: "example.com"}, 0, "fail", "quarantine", "none"},
		{"p=none", "v=DMARC1; p=none", "example.com",
			dmarcInput{From: "example.com"}, 0, "fail", "none", "none"},
	}
	for _, c := range cases {
		rec, err := dmarc.Parse(c.record)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := evaluateDMARC(c.in, rec, c.at, c.sample)
		if got.Result != c.result || got.Policy != c.policy || got.Disposition != c.disposition || got.Domain != c.in.From {
			t.Errorf("%s: %+v, want %s/%s/%s", c.name, got, c.result, c.policy, c.disposition)
		}
	}
}

func FuzzDMARC(f *testing.F) {
	f.Add("v=DMARC1; p=reject; sp=none; pct=30; adkim=s", "a.example.com", "example.com", "pass", "b.example.com", "example.com", 0.5)
	f.Add("v=DMARC1; p=quarantine", "example.co.uk", "example.co.uk", "fail", "x.example.co.uk", "", 0.0)
	f.Fuzz(func(t *testing.T, txt, from, at, spfRes, spfDomain, dkimDomain string, sample float64) {
		rec, err := dmarc.Parse(txt)
		if err != nil {
			return
		}
		if sample < 0 || sample >= 1 || sample != sample {
			sample = 0
		}
		from = strings.ToLower(from)
		in := dmarcInput{From: from, SPF: spfRes, SPFDomain: spfDomain}
		if dkimDomain != "" {
			in.DKIMPass = []string{dkimDomain}
		}
		got := evaluateDMARC(in, rec, at, sample)
		wantPass := spfRes == "pass" && aligned(rec.SPFAlignment, spfDomain, from) || dkimDomain != "" && aligned(rec.DKIMAlignment, dkimDomain, from)
		if (got.Result == "pass") != wantPass || got.Result != "pass" && got.Result != "fail" {
			t.Fatalf("%+v for %+v", got, in)
		}
		if got.Result == "pass" && got.Disposition != "none" {
			t.Fatalf("a pass with disposition %s", got.Disposition)
		}
		if rank(got.Disposition) > rank(got.Policy) && got.Policy != "" {
			t.Fatalf("disposition %s harsher than policy %s", got.Disposition, got.Policy)
		}
	})
}

func rank(p string) int {
	return map[string]int{"none": 0, "quarantine": 1, "reject": 2}[p]
}
