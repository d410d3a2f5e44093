package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/auth"
	"github.com/moonpost/moonpost/core/dns/dnstest"
)

// dkimTXT is a zone-file TXT record with value split into 255-byte strings.
func dkimTXT(name, value string) string {
	var parts []string
	for len(value) > 255 {
		parts, value = append(parts, `"`+value[:255]+`"`), value[255:]
	}
	parts = append(parts, `"`+value+`"`)
	return name + ". 300 IN TXT " + strings.Join(parts, " ")
}

// Scenario 30: "moonpost dkim keygen" writes a private key only its owner
// can read and prints the record; "moonpost dkim check" finds the record
// in DNS and says whether it matches the key, by the configured table.
func TestT30DKIMKeygenAndCheck(t *testing.T) {
	ns := dnstest.NewServer(t)
	d := newDaemon(t, "")
	for _, c := range []struct{ typ, sel string }{{"rsa", "s1"}, {"ed25519", "s2"}} {
		keyPath := filepath.Join(d.dir, "example.com."+c.sel+".pem")
		code, out := d.run("", "dkim", "keygen", "example.com", c.sel, "--type", c.typ, "--out", keyPath)
		if code != 0 {
			t.Fatalf("keygen %s: %d %s", c.typ, code, out)
		}
		fi, err := os.Stat(keyPath)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v %v", fi, err)
		}
		key, err := auth.LoadKeyFile(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := auth.PublicRecord(key.Public())
		p := rec[strings.Index(rec, "p="):]
		if !strings.Contains(strings.NewReplacer("\"", "", "\n\t", "").Replace(out), p) ||
			!strings.Contains(out, c.sel+"._domainkey.example.com. IN TXT") || !strings.Contains(out, "[[dkim.sign]]") {
			t.Fatalf("keygen output lacks the record or the table:\n%s", out)
		}
		if code, out := d.run("", "dkim", "keygen", "example.com", c.sel, "--out", keyPath); code == 0 {
			t.Fatalf("keygen overwrote an existing key: %s", out)
		}
		ns.Add(t, dkimTXT(c.sel+"._domainkey.example.com", rec))
	}
	other, _, _ := auth.GenerateKey("ed25519", 0)
	otherRec, _ := auth.PublicRecord(other.Public())
	ns.Add(t, dkimTXT("s3._domainkey.example.com", otherRec))

	os.WriteFile(d.cfg, []byte(baseConfig(d, fmt.Sprintf(`
[dns]
servers = [%q]

[[dkim.sign]]
domain = "example.com"
selector = "s1"
key = %q

[[dkim.sign]]
domain = "example.com"
selector = "s3"
key = %q
`, ns.Addr, filepath.Join(d.dir, "example.com.s1.pem"), filepath.Join(d.dir, "example.com.s2.pem")))), 0o600)

	if code, out := d.run("", "check"); code != 0 {
		t.Fatalf("check: %d %s", code, out)
	}
	if code, out := d.run("", "dkim", "check", "example.com", "s1"); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("check s1 (configured key): %d %s", code, out)
	}
	s2 := filepath.Join(d.dir, "example.com.s2.pem")
	if code, out := d.run("", "dkim", "check", "example.com", "s2", "--key", s2); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("check s2 --key: %d %s", code, out)
	}
	if code, out := d.run("", "dkim", "check", "example.com", "s3"); code != 65 || !strings.Contains(out, "MISMATCH") {
		t.Fatalf("check s3 (a different key published): %d %s", code, out)
	}
	if code, out := d.run("", "dkim", "check", "example.com", "s4", "--key", s2); code != 65 {
		t.Fatalf("check s4 (nothing published): %d %s", code, out)
	}

	// A bad key is a clear error at check, naming the entry.
	os.WriteFile(s2, []byte("not a key"), 0o600)
	if code, out := d.run("", "check"); code != 78 || !strings.Contains(out, "example.com (selector s3)") {
		t.Fatalf("check with a bad key: %d %s", code, out)
	}
}
