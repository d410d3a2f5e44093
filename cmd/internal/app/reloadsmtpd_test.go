package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/smtpd"
)

type nopSubmitter struct{}

func (nopSubmitter) SubmitSMTP(context.Context, *queue.Envelope, io.Reader, policy.DataCheck) (queue.ID, error) {
	return "", nil
}

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir, cn string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	return cert, key
}

// A reload reads the TLS certificate again, even under the same file
// names; one that does not load refuses the reload and changes nothing.
func TestReloadTakesRenewedCertificate(t *testing.T) {
	srv, err := smtpd.New(smtpd.Config{Hostname: "mx.test", Submitter: nopSubmitter{},
		Listeners: []smtpd.Listener{{Name: "smtp", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := &reloader{svc: &services{smtpd: srv}}
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "old.test")
	next := &config.Config{Hostname: "mx.test"}
	next.SMTPD.TLSCert, next.SMTPD.TLSKey = cert, key
	next.SMTPD.Listen = []string{"127.0.0.1:0"}
	apply, err := r.smtpdReload(next)
	if err != nil {
		t.Fatal(err)
	}
	if err := apply(); err != nil {
		t.Fatal(err)
	}
	leaf := func() string {
		c := srv.Settings().TLSConfig
		if c == nil || len(c.Certificates) == 0 {
			return ""
		}
		x, _ := x509.ParseCertificate(c.Certificates[0].Certificate[0])
		return x.Subject.CommonName
	}
	if leaf() != "old.test" {
		t.Fatalf("certificate after the first reload: %q", leaf())
	}
	writeCert(t, dir, "renewed.test") // same file names
	apply, err = r.smtpdReload(next)
	if err != nil {
		t.Fatal(err)
	}
	apply()
	if leaf() != "renewed.test" {
		t.Errorf("certificate after the renewal: %q", leaf())
	}
	os.WriteFile(key, []byte("garbage"), 0o600)
	if _, err := r.smtpdReload(next); err == nil || !strings.Contains(err.Error(), "the running one stays") {
		t.Errorf("a broken key: %v", err)
	}
	if leaf() != "renewed.test" {
		t.Errorf("a refused reload changed the certificate: %q", leaf())
	}
}
