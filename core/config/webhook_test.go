package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func loadText(t *testing.T, text string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "moonpost.toml")
	os.WriteFile(p, []byte(text), 0o600)
	return Load(p)
}

func TestWebhookDefaultsAndChecks(t *testing.T) {
	c, err := loadText(t, "[[webhook]]\nurl = \"http://127.0.0.1:8080/x\"\n")
	if err != nil {
		t.Fatal(err)
	}
	w := c.Webhooks[0]
	if w.Name != "webhook" || w.BatchSize != 100 || w.FlushInterval.D() != time.Second || w.MaxSpoolBytes != 64<<20 ||
		len(w.Events) != 3 || w.MaxBackoff.D() != 5*time.Minute {
		t.Fatalf("defaults %+v", w)
	}
	for _, bad := range []struct{ text, want string }{
		{"[[webhook]]\nurl = \"ftp://x\"\n", "webhook[0].url"},
		{"[[webhook]]\nurl = \"http://a/\"\n[[webhook]]\nurl = \"http://b/\"\n", "webhook[1].name"},
		{"[[webhook]]\nurl = \"http://a/\"\nevents = [\"sent\"]\n", "webhook[0].events"},
		{"[[webhook]]\nurl = \"http://a/\"\nname = \"../x\"\n", "webhook[0].name"},
		{"[[webhook]]\nurl = \"http://a/\"\nmax_spool_bytes = 10\n", "max_spool_bytes"},
	} {
		if _, err := loadText(t, bad.text); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want an error naming %s", bad.text, err, bad.want)
		}
	}
}
