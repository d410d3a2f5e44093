package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
)

func TestBounceRules(t *testing.T) {
	c, err := loadText(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Bounce.ClassifierDefaults || c.Bounce.ClassifierRules != "" {
		t.Fatalf("defaults %+v", c.Bounce)
	}
	rules := filepath.Join(t.TempDir(), "bounce-rules")
	os.WriteFile(rules, []byte("# ours\ncontent ^550 5\\.1\\.1 .*filtered\n"), 0o644)
	c, err = loadText(t, "[bounce]\nclassifier_rules = \""+rules+"\"\n")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.BounceRules()
	if err != nil || rs.Classify(dsn.New(550, "5.1.1", "filtered")) != "content" || rs.Classify(dsn.New(550, "5.1.1", "x")) != "invalid_recipient" {
		t.Fatalf("the file's rules, then the shipped ones: %v", err)
	}

	os.WriteFile(rules, []byte("# ours\n\ncontent ok\nspam_block zen.spamhaus.(org\n"), 0o644)
	_, err = loadText(t, "[bounce]\nclassifier_rules = \""+rules+"\"\n")
	if err == nil || !strings.Contains(err.Error(), "bounce.classifier_rules: "+rules+":4: bad pattern") {
		t.Fatalf("bad pattern: %v, want the key, the file and line 4", err)
	}
	for _, bad := range []struct{ text, want string }{
		{"[bounce]\nclassifier_defaults = false\n", "bounce.classifier_defaults"},
		{"[bounce]\nclassifier_rules = \"/nonexistent/rules\"\n", "bounce.classifier_rules: open /nonexistent/rules"},
		{"[bounce]\nclassifer_rules = \"x\"\n", "unknown key bounce.classifer_rules"},
	} {
		if _, err := loadText(t, bad.text); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want an error with %q", bad.text, err, bad.want)
		}
	}
}
