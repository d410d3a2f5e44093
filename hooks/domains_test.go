package hooks

import "testing"

func TestDomainClass(t *testing.T) {
	e := newEngine(t, map[string]string{"10-class.lua": `
mta.on("transport", function(rcpt) return {transport = "local", nexthop = mta.domain_class(rcpt) or "none"} end)
`}, func(c *Config) {
		c.Config = map[string]any{
			"mydestination": []string{"mx.example", "localhost"},
			"relay_domains": []any{"Hosted.Example"},
		}
	})
	for rcpt, want := range map[string]string{
		"u@MX.example.":            "local",
		"u@localhost":              "local",
		"":                         "local", // a bare name has no domain
		"nodot":                    "none",
		"u@hosted.example":         "relay",
		"u@elsewhere.example":      "none",
		`"a@mx.example"@x.example`: "none",
	} {
		r, err := e.Route(ctx(t), rcpt, nil)
		if err != nil || r.Nexthop != want {
			t.Errorf("domain_class(%q) = %q, %v; want %q", rcpt, r.Nexthop, err, want)
		}
	}
}
