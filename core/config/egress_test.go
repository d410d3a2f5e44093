package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEgressRules(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "moonpost.toml")
	good := `
[[egress.rule]]
pattern = "^421 4\\.7\\.0 .*rate limited"
action = "suspend"
for = "1h"

[[egress.rule]]
pattern = "^452 "
action = "rate"
for = "30m"
rate = "10/min"
`
	os.WriteFile(path, []byte(good), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	rules := c.EgressRules()
	if len(rules) != 2 || rules.Match("421 4.7.0 you are rate limited") != &rules[0] || rules[1].Rate.N != 10 {
		t.Errorf("rules %+v", rules)
	}
	for bad, want := range map[string]string{
		"[[egress.rule]]\npattern = \"(\"\naction = \"suspend\"\nfor = \"1h\"\n":               "egress.rule[0]: pattern",
		"[[egress.rule]]\npattern = \"x\"\naction = \"pause\"\nfor = \"1h\"\n":                 "egress.rule[0]: action",
		"[[egress.rule]]\npattern = \"x\"\naction = \"rate\"\nfor = \"1h\"\n":                  "egress.rule[0]: rate",
		"[[egress.rule]]\npattern = \"x\"\naction = \"suspend\"\nfor = \"1h\"\nscpe = \"x\"\n": "scpe",
	} {
		os.WriteFile(path, []byte(bad), 0o644)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", bad, err, want)
		}
	}
}
