package osslrsa

import (
	"crypto"
	"crypto/rsa"
	"io"
)

// Off is the environment variable that, set to any value, keeps every
// RSA signature in Go's crypto/rsa (without cgo they always are).
const Off = "MOONPOST_RSA_GO"

// Signer is an RSA signing key. Sign makes PKCS #1 v1.5 signatures of
// SHA-256 digests through libcrypto where it was loaded, and anything
// else (other hashes, PSS) through Go's crypto/rsa.
type Signer struct {
	key  *rsa.PrivateKey
	ossl *osslKey // nil: Go signs everything
}

// New returns a Signer for key. It never fails: where libcrypto is not
// available, or does not take the key, Go signs.
func New(key *rsa.PrivateKey) *Signer {
	return &Signer{key: key, ossl: loadKey(key)}
}

// Public returns the public key.
func (s *Signer) Public() crypto.PublicKey { return &s.key.PublicKey }

// OpenSSL reports whether libcrypto signs for this key.
func (s *Signer) OpenSSL() bool { return s.ossl != nil }

// Sign signs digest. With opts crypto.SHA256 (PKCS #1 v1.5) it uses
// libcrypto if it can and checks the result; otherwise, or if that
// fails, crypto/rsa signs.
func (s *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, pss := opts.(*rsa.PSSOptions); !pss && s.ossl != nil && opts.HashFunc() == crypto.SHA256 && len(digest) == crypto.SHA256.Size() {
		if sig, ok := s.ossl.signSHA256(digest, s.key.Size()); ok {
			if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, digest, sig) == nil {
				return sig, nil
			}
		}
	}
	return s.key.Sign(rand, digest, opts)
}

// Library names what signs RSA in this process: the OpenSSL version
// string, or "Go crypto/rsa" (with the reason libcrypto is not used).
func Library() string { return library() }
