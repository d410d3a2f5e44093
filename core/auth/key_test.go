package auth

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rfc8463Seed is the Ed25519 private key of RFC 8463 appendix A.2.
const rfc8463Seed = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="

func rfc8463Key(t testing.TB) ed25519.PrivateKey {
	seed, err := base64.StdEncoding.DecodeString(rfc8463Seed)
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func TestParseKeyForms(t *testing.T) {
	rsaKey, rsaPEM, err := GenerateKey("rsa", 1024)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey))})
	_, edPEM, err := GenerateKey("ed25519", 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"pkcs8 rsa": rsaPEM, "pkcs1 rsa": pkcs1, "pkcs8 ed25519": edPEM} {
		if _, err := ParseKey(data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseKeyRefuses(t *testing.T) {
	for name, data := range map[string]string{
		"empty":     "",
		"garbage":   "not a key",
		"cert type": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		"bad der":   "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		if _, err := ParseKey([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_, two, _ := GenerateKey("ed25519", 0)
	if _, err := ParseKey(append(two, two...)); err == nil {
		t.Error("two PEM blocks accepted")
	}
}

func TestPublicRecordRFC8463(t *testing.T) {
	rec, err := PublicRecord(rfc8463Key(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	// RFC 8463 appendix A.2.
	want := "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	if rec != want {
		t.Fatalf("record %q, want %q", rec, want)
	}
	if err := MatchRecord(want, rfc8463Key(t).Public()); err != nil {
		t.Fatal(err)
	}
}

func TestMatchRecord(t *testing.T) {
	k1, _, _ := GenerateKey("rsa", 1024)
	k2, _, _ := GenerateKey("rsa", 1024)
	ed, _, _ := GenerateKey("ed25519", 0)
	rec, _ := PublicRecord(k1.Public())
	if err := MatchRecord(rec, k1.Public()); err != nil {
		t.Fatal(err)
	}
	if err := MatchRecord(strings.Replace(rec, "k=rsa; ", "", 1), k1.Public()); err != nil {
		t.Errorf("k= defaults to rsa: %v", err)
	}
	for name, c := range map[string]struct {
		rec string
		key any
	}{
		"other key": {rec, k2.Public()}, "other type": {rec, ed.Public()},
		"revoked": {"v=DKIM1; k=rsa; p=", k1.Public()}, "bad tags": {"v=DKIM1; k", k1.Public()},
		"bad version": {"v=DKIM2; p=AAAA", k1.Public()},
	} {
		if err := MatchRecord(c.rec, c.key); err == nil {
			t.Errorf("%s: matched", name)
		}
	}
}

func writeKey(t *testing.T, path string, typ string) []byte {
	t.Helper()
	_, p, err := GenerateKey(typ, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
