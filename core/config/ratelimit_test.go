package config

import (
	"strings"
	"testing"
)

// Every key of [[smtpd.rate_limit]] is checked at load, naming the block
// and the key; a good block loads.
func TestRateLimitKeys(t *testing.T) {
	good := "[[smtpd.rate_limit]]\nper = \"sender_domain\"\ncount = \"messages\"\nrate = \"60/min\"\nlocal = true\n"
	c, err := loadText(t, good)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.SMTPD.RateLimits; len(r) != 1 || r[0].Per != "sender_domain" || r[0].Rate != "60/min" || !r[0].Local {
		t.Fatalf("loaded %+v", r)
	}
	for _, c := range []struct{ body, want string }{
		{"per = \"tenant\"\ncount = \"messages\"\nrate = \"1/s\"", "smtpd.rate_limit[0].per"},
		{"per = \"client\"\ncount = \"connections\"\nrate = \"1/s\"", "smtpd.rate_limit[0].count"},
		{"per = \"client\"\ncount = \"messages\"\nrate = \"ten/s\"", "smtpd.rate_limit[0].rate"},
		{"per = \"client\"\ncount = \"messages\"\nrate = \"0/s\"", "smtpd.rate_limit[0].rate"},
		{"per = \"client\"\ncount = \"messages\"\nrate = \"5/day\"", "smtpd.rate_limit[0].rate"},
		{"per = \"client\"\ncount = \"messages\"", "smtpd.rate_limit[0].rate"},
	} {
		_, err := loadText(t, "[[smtpd.rate_limit]]\n"+c.body+"\n")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error naming %s", c.body, err, c.want)
		}
	}
}
