package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"
)

// ARC sealing (RFC 8617 section 5.1) of mail moonpost forwards: one new
// ARC set, instance N+1, made of our Authentication-Results for the
// message (ARC-Authentication-Results), a signature of the message
// (ARC-Message-Signature, relaxed/relaxed, like DKIM) and a seal over
// all sets (ARC-Seal). The chain validation status (cv=) is the arc=
// result our own inbound check recorded; a message we never checked and
// that carries no ARC sets starts a chain (cv=none).

// SealsARC says whether forwarded mail is sealed (dkim.arc_domain set).
func (s *Signer) SealsARC() bool { return s != nil && s.ARCDomain != "" }

// Seal adds an ARC set on top of h for the message whose content after
// the header is body. It fails (and adds nothing) when the chain cannot
// be continued: no key, more than 50 instances.
func (s *Signer) Seal(h *textproto.Header, body io.Reader) error {
	keys, err := s.Keys.Keys(s.ARCDomain, s.ARCSelector)
	if err != nil || len(keys) == 0 {
		return fmt.Errorf("arc: no [[dkim.sign]] key for %s selector %s", s.ARCDomain, s.ARCSelector)
	}
	key := keys[0]
	sets, err := arcSets(h)
	if err != nil {
		return fmt.Errorf("arc: the message's ARC sets are broken: %w", err)
	}
	i := len(sets)
	if i > maxARC {
		return errors.New("arc: 50 instances already")
	}
	ourAR, arcRes := s.ownResults(h)
	cv := "none"
	if i > 1 {
		cv = map[string]string{"pass": "pass"}[arcRes]
		if cv == "" {
			cv = "fail"
		}
	}
	bh := newBodyHasher()
	if _, err := io.Copy(bh, body); err != nil {
		return err
	}
	_, relaxed := bh.sums()
	// One result a line: many results must not make a line over 998.
	aar := fmt.Sprintf("ARC-Authentication-Results: i=%d; %s\r\n", i, strings.ReplaceAll(ourAR, "; ", ";\r\n\t"))
	ams, err := s.arcMessageSignature(h, key, i, relaxed)
	if err != nil {
		return err
	}
	sets = append(sets, arcSet{aar: aar, ams: ams})
	seal, err := arcSeal(sets, key, i, cv)
	if err != nil {
		return err
	}
	h.AddRaw([]byte(ams))
	h.AddRaw([]byte(aar))
	h.AddRaw([]byte(seal))
	return nil
}

// ownResults is our Authentication-Results value for the message (our
// authserv-id; forged ones were removed when it came in) and its arc=
// result; "ID; none" when we never checked it.
func (s *Signer) ownResults(h *textproto.Header) (string, string) {
	for _, v := range h.Values("Authentication-Results") {
		if !strings.EqualFold(ServID(v), s.AuthservID) {
			continue
		}
		arc := ""
		if _, rs, err := authres.Parse(v); err == nil {
			for _, r := range rs {
				if a, ok := r.(*authres.ARCResult); ok {
					arc = string(a.Value)
				}
			}
		}
		return strings.Join(strings.Fields(v), " "), arc
	}
	return s.AuthservID + "; none", ""
}

// arcMessageSignature signs the header fields DKIM would, plus the body
// hash, as instance i.
func (s *Signer) arcMessageSignature(h *textproto.Header, key *Key, i int, bh []byte) (string, error) {
	names := s.headerKeys(h)
	tags := fmt.Sprintf("i=%d; a=%s; c=relaxed/relaxed; d=%s; s=%s; t=%d;\r\n\th=%s;\r\n\tbh=%s;\r\n\tb=",
		i, key.Algorithm(), key.Domain, key.Selector, time.Now().Unix(), strings.Join(names, ":"), base64.StdEncoding.EncodeToString(bh))
	field := "ARC-Message-Signature: " + tags
	var b strings.Builder
	for _, raw := range pickFields(h, names) {
		b.WriteString(relaxedHeader(raw) + "\r\n")
	}
	b.WriteString(relaxedHeader(field))
	sig, err := signData(key, b.String())
	if err != nil {
		return "", err
	}
	return field + sig + "\r\n", nil
}

// arcSeal seals sets 1..i (the new set without its seal yet).
func arcSeal(sets []arcSet, key *Key, i int, cv string) (string, error) {
	field := fmt.Sprintf("ARC-Seal: i=%d; a=%s; cv=%s; d=%s; s=%s; t=%d;\r\n\tb=",
		i, key.Algorithm(), cv, key.Domain, key.Selector, time.Now().Unix())
	var b strings.Builder
	for j := 1; j <= i; j++ {
		b.WriteString(relaxedHeader(sets[j].aar) + "\r\n")
		b.WriteString(relaxedHeader(sets[j].ams) + "\r\n")
		if j < i {
			b.WriteString(relaxedHeader(sets[j].as) + "\r\n")
		}
	}
	b.WriteString(relaxedHeader(field))
	sig, err := signData(key, b.String())
	if err != nil {
		return "", err
	}
	return field + sig + "\r\n", nil
}

// signData signs the SHA-256 of data: PKCS#1 v1.5 for RSA, Ed25519 over
// the hash for Ed25519 (RFC 8463).
func signData(key *Key, data string) (string, error) {
	sum := sha256Sum(data)
	var sig []byte
	var err error
	if _, ok := key.Signer.Public().(ed25519.PublicKey); ok {
		sig, err = key.Signer.Sign(rand.Reader, sum, crypto.Hash(0))
	} else {
		sig, err = key.Signer.Sign(rand.Reader, sum, crypto.SHA256)
	}
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}
