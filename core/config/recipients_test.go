package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLocalRecipientMaps(t *testing.T) {
	c, err := Load("")
	if err != nil || !slices.Equal(c.LocalRecipientMaps, []string{"passwd", "aliases"}) {
		t.Fatalf("default %q, %v", c.LocalRecipientMaps, err)
	}
	off, err := Load(write(t, "local_recipient_maps = []\n"))
	if err != nil || off.LocalRecipientMaps == nil || len(off.LocalRecipientMaps) != 0 {
		t.Fatalf("[] must turn the check off, not restore the default: %q, %v", off.LocalRecipientMaps, err)
	}
	cfg := write(t, "")
	users := filepath.Join(filepath.Dir(cfg), "users")
	if err := os.WriteFile(users, []byte("alice ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Dir(cfg))
	c, err = Load(write(t, `local_recipient_maps = ["passwd", "users"]`+"\n"))
	if err != nil || !slices.Equal(c.LocalRecipientMaps, []string{"passwd", users}) || !slices.Equal(c.RecipientTables(), []string{users}) {
		t.Fatalf("table path made absolute: %q, %v", c.LocalRecipientMaps, err)
	}
	for body, want := range map[string]string{
		`local_recipient_maps = ["missing"]`: "local_recipient_maps[0]",
		`local_recipient_maps = [""]`:        "empty entry",
		`local_recipient_maps = ["/"]`:       "not a table file",
	} {
		if _, err := Load(write(t, body+"\n")); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

func TestSetgidGroup(t *testing.T) {
	c, err := Load("")
	if gid, _ := c.SetgidGID(); err != nil || gid != -1 {
		t.Fatalf("default: gid %d, %v", gid, err)
	}
	c, err = Load(write(t, `setgid_group = "root"`+"\n"))
	if gid, _ := c.SetgidGID(); err != nil || gid != 0 {
		t.Fatalf("root group: gid %d, %v", gid, err)
	}
	if _, err := Load(write(t, `setgid_group = "no-such-group-moonpost"`+"\n")); err == nil || !strings.Contains(err.Error(), "setgid_group") {
		t.Errorf("unknown group: %v", err)
	}
}
