package config

import (
	"strings"
	"testing"
	"time"
)

func TestTLSRPTAndMTASTSKeys(t *testing.T) {
	c, err := Load(write(t, "myhostname = \"mta.example.test\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := c.TLSRPT
	if r.Enabled || r.OrganizationName != "mta.example.test" || r.ContactInfo != "postmaster@mta.example.test" ||
		r.From != "tlsrpt-noreply@mta.example.test" || r.Interval.D() != 24*time.Hour || !c.SMTP.MTASTSEnabled() {
		t.Errorf("defaults: tlsrpt %+v, mta_sts %v", r, c.SMTP.MTASTSEnabled())
	}
	c, err = Load(write(t, "[smtp]\nmta_sts = false\n[tlsrpt]\nenabled = true\norganization_name = \"Example\"\n"+
		"contact_info = \"https://example.test/tls\"\nfrom = \"reports@example.test\"\ninterval = \"1h\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	r = c.TLSRPT
	if !r.Enabled || r.OrganizationName != "Example" || r.ContactInfo != "https://example.test/tls" ||
		r.From != "reports@example.test" || r.Interval.D() != time.Hour || c.SMTP.MTASTSEnabled() {
		t.Errorf("set: tlsrpt %+v, mta_sts %v", r, c.SMTP.MTASTSEnabled())
	}
	for body, want := range map[string]string{
		"[tlsrpt]\nfrom = \"nobody\"":  "tlsrpt.from",
		"[tlsrpt]\ninterval = \"8d\"":  "tlsrpt.interval",
		"[tlsrpt]\ninterval = \"1ms\"": "tlsrpt.interval",
		"[tlsrpt]\nenable = true":      "unknown key",
		"[smtp]\nmta_sts = \"yes\"":    "mta_sts",
	} {
		if _, err := Load(write(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want mention of %q", body, err, want)
		}
	}
}
