package mtasts

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const goodPolicy = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.backup.example.com\r\nmax_age: 604800\r\n"

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy([]byte(goodPolicy))
	if err != nil {
		t.Fatal(err)
	}
	want := &Policy{Mode: Enforce, MX: []string{"mail.example.com", "*.backup.example.com"}, MaxAge: 7 * 24 * time.Hour,
		Lines: []string{"version: STSv1", "mode: enforce", "mx: mail.example.com", "mx: *.backup.example.com", "max_age: 604800"}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
}

func TestParsePolicyLenientWhereTheRFCIs(t *testing.T) {
	for _, body := range []string{
		"version: STSv1\nmode: testing\nmx: MX.Example.COM.\nmax_age: 86400", // LF, no final newline, case, dot
		"version:STSv1\nmode:testing\nmx:mx.example.com\nmax_age:0\n",        // no space; max_age 0
		"version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\nx-ext: anything goes\n",
		"version: STSv1\nmode: none\nmax_age: 86400\n", // none needs no mx
		"mode: testing\nmx: mx.example.com\nmax_age: 86400\nversion: STSv1\n",
	} {
		p, err := ParsePolicy([]byte(body))
		if err != nil {
			t.Errorf("%q: %v", body, err)
			continue
		}
		if p.Mode != None && !p.Match("mx.example.com") {
			t.Errorf("%q: mx.example.com does not match %v", body, p.MX)
		}
	}
}

func TestParsePolicyRejects(t *testing.T) {
	for body, wantErr := range map[string]string{
		"mode: enforce\nmx: a.example\nmax_age: 1\n":                                    "no version",
		"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n":                    "want STSv1",
		"version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n":                     "mode",
		"version: STSv1\nmx: a.example\nmax_age: 1\n":                                   "no mode",
		"version: STSv1\nmode: enforce\nmax_age: 1\n":                                   "no mx",
		"version: STSv1\nmode: enforce\nmx: a.example\n":                                "no max_age",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n":             "more than",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n":                   "digits",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n":          "digits",
		"version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 1\n":     "twice",
		"version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n":                   "mx",
		"version: STSv1\nmode: enforce\nmx: *.com\nmax_age: 1\n":                        "mx",
		"version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n":                  "mx",
		"version: STSv1\nmode: enforce\nmx: 192.0.2.1:25\nmax_age: 1\n":                 "mx",
		"version: STSv1\nmode: enforce\nmx:\nmax_age: 1\n":                              "empty",
		"version: STSv1\nmode: enforce\nmx a.example\nmax_age: 1\n":                     "no ':'",
		"version: STSv1\nmode: enforce\n_bad: x\nmx: a.example\nmax_age: 1\n":           "field name",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nnote: caf\xc3\xa9\n": "bad character",
		"<html>not a policy</html>":                                                     "no ':'",
	} {
		_, err := ParsePolicy([]byte(body))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: err %v, want %q", body, err, wantErr)
		}
	}
}

func TestMatch(t *testing.T) {
	p := &Policy{MX: []string{"mail.example.com", "*.example.net"}}
	for host, want := range map[string]bool{
		"mail.example.com": true, "MAIL.example.com.": true, "x.mail.example.com": false, "example.com": false,
		"mx1.example.net": true, "a.b.example.net": false, "example.net": false, ".example.net": false,
		"mx1.example.net.evil.test": false,
	} {
		if got := p.Match(host); got != want {
			t.Errorf("Match(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestParseRecord(t *testing.T) {
	for txts, want := range map[string]string{
		"v=STSv1; id=20160831085700Z;": "20160831085700Z",
		"v=STSv1;id=abc":               "abc",
		"v=STSv1; id=abc; ext=1":       "abc",
		"v=spf1 -all|v=STSv1; id=x1":   "x1",
		"v=STSv1 ; id=abc ;":           "abc",
	} {
		id, err := ParseRecord(strings.Split(txts, "|"))
		if err != nil || id != want {
			t.Errorf("%q: %q, %v; want %q", txts, id, err, want)
		}
	}
	for _, txts := range []string{
		"v=spf1 -all", "v=STSv1", "v=STSv1; id=", "v=STSv1; id=a-b", "v=STSv1; id=" + strings.Repeat("a", 33),
		"v=STSv1; id=a|v=STSv1; id=b", "v=STSv1; id=a; id=b", "v=STSv10; id=a", "v=STSv1; junk",
	} {
		if id, err := ParseRecord(strings.Split(txts, "|")); err == nil {
			t.Errorf("%q: accepted, id %q", txts, id)
		}
	}
}

func TestALabel(t *testing.T) {
	for in, want := range map[string]string{"Example.TEST.": "example.test", "bücher.example": "xn--bcher-kva.example"} {
		if got, err := aLabel(in); err != nil || got != want {
			t.Errorf("aLabel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
