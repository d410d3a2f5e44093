package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/moonpost/moonpost/core/internal/osslrsa"
)

// MinRSABits is the smallest RSA key accepted (RFC 8301 section 3.2).
const MinRSABits = 1024

// Key is one signing identity: a domain, a selector and its private key.
type Key struct {
	Domain   string
	Selector string
	Path     string // the PEM file it came from, for logs
	Signer   crypto.Signer
}

// Algorithm names the signature algorithm: "rsa-sha256" or "ed25519-sha256".
func (k *Key) Algorithm() string { return algorithm(k.Signer.Public()) }

func algorithm(pub crypto.PublicKey) string {
	if _, ok := pub.(ed25519.PublicKey); ok {
		return "ed25519-sha256"
	}
	return "rsa-sha256"
}

// ParseKey reads a PEM private key: PKCS#8 (RSA or Ed25519) or PKCS#1
// (RSA). Anything else, or an RSA key under MinRSABits, is an error.
// An RSA key signs through OpenSSL's libcrypto where it can be loaded
// (core/internal/osslrsa), through Go's crypto/rsa otherwise.
func ParseKey(data []byte) (crypto.Signer, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("more than one PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q: want PRIVATE KEY or RSA PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if n := k.N.BitLen(); n < MinRSABits {
			return nil, fmt.Errorf("RSA key of %d bits: at least %d needed (RFC 8301)", n, MinRSABits)
		}
		return osslrsa.New(k), nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported key type %T: use RSA or Ed25519", key)
}

// RSALibrary names what makes RSA signatures in this process: the
// OpenSSL version, or Go's crypto/rsa and why.
func RSALibrary() string { return osslrsa.Library() }

// LoadKeyFile reads and parses a PEM key file.
func LoadKeyFile(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// GenerateKey makes a new key: typ "rsa" (bits, default 2048) or
// "ed25519". It returns the key and its PKCS#8 PEM encoding.
func GenerateKey(typ string, bits int) (crypto.Signer, []byte, error) {
	var key crypto.Signer
	var err error
	switch typ {
	case "", "rsa":
		if bits == 0 {
			bits = 2048
		}
		if bits < MinRSABits || bits > 8192 {
			return nil, nil, fmt.Errorf("--bits %d: use %d to 8192", bits, MinRSABits)
		}
		key, err = rsa.GenerateKey(rand.Reader, bits)
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, nil, fmt.Errorf("key type %q: use rsa or ed25519", typ)
	}
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicRecord is the DNS TXT record (at SELECTOR._domainkey.DOMAIN) that
// publishes pub: "v=DKIM1; k=rsa; p=..." (RFC 6376 3.6.1, RFC 8463 4.2).
func PublicRecord(pub crypto.PublicKey) (string, error) {
	k, p, err := publicData(pub)
	if err != nil {
		return "", err
	}
	return "v=DKIM1; k=" + k + "; p=" + base64.StdEncoding.EncodeToString(p), nil
}

// publicData is the key type tag and the p= bytes: SubjectPublicKeyInfo
// DER for RSA, the raw 32 bytes for Ed25519.
func publicData(pub crypto.PublicKey) (string, []byte, error) {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return "ed25519", []byte(p), nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(p)
		return "rsa", der, err
	}
	return "", nil, fmt.Errorf("unsupported public key %T", pub)
}

// MatchRecord says whether the TXT record txt publishes pub. It returns
// nil on a match, else what differs.
func MatchRecord(txt string, pub crypto.PublicKey) error {
	tags, err := ParseTags(txt)
	if err != nil {
		return err
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return fmt.Errorf("v=%s: want DKIM1", v)
	}
	want, data, err := publicData(pub)
	if err != nil {
		return err
	}
	if k := orDefault(tags["k"], "rsa"); k != want {
		return fmt.Errorf("record has k=%s, the key is %s", k, want)
	}
	p := strings.Join(strings.Fields(tags["p"]), "")
	if p == "" {
		return errors.New("record has an empty p= (the key is revoked)")
	}
	got, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return fmt.Errorf("p=: %w", err)
	}
	if string(got) != string(data) {
		if want == "rsa" && rsaPKCS1Match(got, pub) {
			return nil
		}
		return errors.New("p= is a different public key")
	}
	return nil
}

// rsaPKCS1Match accepts a p= holding a bare PKCS#1 RSAPublicKey, which
// some generators publish and verifiers accept.
func rsaPKCS1Match(der []byte, pub crypto.PublicKey) bool {
	k, err := x509.ParsePKCS1PublicKey(der)
	return err == nil && k.Equal(pub)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
