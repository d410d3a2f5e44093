package config

import (
	"strings"
	"testing"
)

func TestDKIMSignTables(t *testing.T) {
	c, err := Load(write(t, `
myhostname = "mx.example.com"
[[dkim.sign]]
domain = "Example.COM."
selector = "s1"
key = "/etc/moonpost/dkim/example.com.s1.pem"

[[dkim.sign]]
domain = "*"
selector = "s1"
key_dir = "/etc/moonpost/dkim"
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.DKIM.Sign) != 2 || c.DKIM.Sign[0].Domain != "example.com" || c.DKIM.Sign[0].Key != "/etc/moonpost/dkim/example.com.s1.pem" ||
		c.DKIM.Sign[1].KeyDir != "/etc/moonpost/dkim" {
		t.Fatalf("%+v", c.DKIM)
	}
	if !c.Auth.Verify || c.Auth.AuthservID != "mx.example.com" {
		t.Fatalf("auth defaults: %+v", c.Auth)
	}
}

func TestDKIMSignRefusesMixups(t *testing.T) {
	for name, body := range map[string]string{
		"no key":          "[[dkim.sign]]\ndomain = \"a.example\"\nselector = \"s1\"\n",
		"wild with key":   "[[dkim.sign]]\ndomain = \"*\"\nselector = \"s1\"\nkey = \"/k.pem\"\n",
		"no selector":     "[[dkim.sign]]\ndomain = \"a.example\"\nkey = \"/k.pem\"\n",
		"unknown key":     "[[dkim.sign]]\ndomain = \"a.example\"\nselector = \"s1\"\nkey = \"/k.pem\"\nbits = 1\n",
		"bad max lookups": "[auth]\nmax_lookups = 0\n",
	} {
		if _, err := Load(write(t, body)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "dkim") && !strings.Contains(err.Error(), "auth") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
