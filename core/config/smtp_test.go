package config

import (
	"strings"
	"testing"
)

// The outbound client's keys: defaults as Postfix's, bad values named.
func TestSMTPClientKeys(t *testing.T) {
	c, err := Load(write(t, "[smtp]\nline_length_limit = 0\nmx_session_limit = 3"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.SMTP
	if s.LineLengthLimit != 0 || s.MXSessionLimit != 3 || s.MXAddressLimit != 5 || s.LMTPTLS != "none" {
		t.Errorf("smtp = %+v", s)
	}
	if d := Default().SMTP; d.LineLengthLimit != 998 || d.MXSessionLimit != 2 {
		t.Errorf("defaults = %+v", d)
	}
	for body, want := range map[string]string{
		"[smtp]\nline_length_limit = 10": "smtp.line_length_limit",
		"[smtp]\nmx_session_limit = -1":  "smtp.mx_session_limit",
		"[smtp]\nlmtp_tls = \"always\"":  "smtp.lmtp_tls",
	} {
		if _, err := Load(write(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want mention of %q", body, err, want)
		}
	}
}

// The TLS level, DNSSEC support and source keys, with Postfix's names.
func TestSMTPTLSKeys(t *testing.T) {
	c, err := Load(write(t, `[smtp]
tls_security_level = "dane"
dns_support_level = "dnssec"
connection_reuse_count_limit = 100
[[smtp.source]]
name = "s1"
address = "127.0.0.5"
ehlo = "out1.example.com"
[[smtp.source]]
name = "s2"
address = "::1"
[[smtp.pool]]
name = "p1"
sources = ["s1", "s2"]
weights = [3, 1]
`))
	if err != nil {
		t.Fatal(err)
	}
	s := c.SMTP
	if s.TLSSecurityLevel != "dane" || s.DNSSupportLevel != "dnssec" || s.ReuseCountLimit != 100 ||
		len(s.Sources) != 2 || s.Sources[0].EHLO != "out1.example.com" || len(s.Pools) != 1 || s.Pools[0].Weights[0] != 3 {
		t.Errorf("smtp = %+v", s)
	}
	d, err := Load(write(t, "[smtp]\ntls = \"encrypt\""))
	if err != nil || d.SMTP.TLSSecurityLevel != "encrypt" {
		t.Errorf("older spelling tls: %+v %v", d.SMTP, err)
	}
	if d, _ := Load(write(t, "")); d.SMTP.TLSSecurityLevel != "may" || d.SMTP.DNSSupportLevel != "enabled" {
		t.Errorf("defaults: %+v", d.SMTP)
	}
	for body, want := range map[string]string{
		"[smtp]\ntls_security_level = \"always\"":                                                                               "smtp.tls_security_level",
		"[smtp]\ntls_security_level = \"dane\"":                                                                                 "dns_support_level",
		"[smtp]\ntls = \"may\"\ntls_security_level = \"verify\"":                                                                "smtp.tls",
		"[smtp]\ndns_support_level = \"disabled\"":                                                                              "smtp.dns_support_level",
		"[[smtp.source]]\nname = \"a\"\naddress = \"nope\"":                                                                     "smtp.source[0].address",
		"[[smtp.source]]\nname = \"\"\naddress = \"127.0.0.5\"":                                                                 "smtp.source[0].name",
		"[[smtp.pool]]\nname = \"p\"\nsources = [\"x\"]":                                                                        "smtp.pool[0].sources",
		"[[smtp.source]]\nname = \"a\"\naddress = \"127.0.0.5\"\n[[smtp.pool]]\nname = \"a\"\nsources = [\"a\"]":                "smtp.pool[0].name",
		"[[smtp.source]]\nname = \"a\"\naddress = \"127.0.0.5\"\n[[smtp.pool]]\nname = \"p\"\nsources = [\"a\"]\nweights = [0]": "smtp.pool[0].weights",
		"[smtp]\nlmtp_tls = \"dane\"":                                                                                           "smtp.lmtp_tls",
	} {
		if _, err := Load(write(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want mention of %q", body, err, want)
		}
	}
}
