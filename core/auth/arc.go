package auth

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// ARC (RFC 8617) chain validation: verification only, no sealing. The
// result is "none" (no ARC sets), "pass" or "fail".

// maxARC is the highest instance RFC 8617 allows.
const maxARC = 50

// arcSet is one instance's three fields, raw.
type arcSet struct {
	aar, ams, as string
}

// checkARC validates the chain of h; sums are the body hashes (simple,
// relaxed) for the newest ARC-Message-Signature. A passing chain also
// gives its sealers' domains, oldest first.
func checkARC(ctx context.Context, l *lookups, h *textproto.Header, simple, relaxed []byte) (string, []string) {
	sets, err := arcSets(h)
	if err != nil {
		return "fail", nil
	}
	n := len(sets) - 1
	if n == 0 {
		return "none", nil
	}
	sealers := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		tags, err := ParseTags(fieldValue(sets[i].as))
		if err != nil {
			return "fail", nil
		}
		want := "pass"
		if i == 1 {
			want = "none"
		}
		if cv := strings.ToLower(tags["cv"]); cv != want {
			return "fail", nil // includes a newest cv=fail
		}
		sealers = append(sealers, strings.ToLower(tags["d"]))
	}
	if verifyAMS(ctx, l, h, sets[n].ams, simple, relaxed) != nil {
		return "fail", nil
	}
	for i := n; i >= 1; i-- {
		if verifyAS(ctx, l, sets, i) != nil {
			return "fail", nil
		}
	}
	return "pass", sealers
}

// arcSets groups the ARC fields by instance; index 0 is unused. A
// missing, repeated or out-of-range instance is an error.
func arcSets(h *textproto.Header) ([]arcSet, error) {
	sets := []arcSet{{}}
	fields := h.Fields()
	for fields.Next() {
		k := strings.ToLower(fields.Key())
		if k != "arc-seal" && k != "arc-message-signature" && k != "arc-authentication-results" {
			continue
		}
		raw, err := fields.Raw()
		if err != nil {
			return nil, err
		}
		i, err := arcInstance(fields.Value())
		if err != nil || i < 1 || i > maxARC {
			return nil, errors.New("bad ARC instance")
		}
		for len(sets) <= i {
			sets = append(sets, arcSet{})
		}
		slot := map[string]*string{"arc-seal": &sets[i].as, "arc-message-signature": &sets[i].ams,
			"arc-authentication-results": &sets[i].aar}[k]
		if *slot != "" {
			return nil, errors.New("repeated ARC field")
		}
		*slot = string(raw)
	}
	for _, s := range sets[1:] {
		if s.aar == "" || s.ams == "" || s.as == "" {
			return nil, errors.New("incomplete ARC set")
		}
	}
	return sets, nil
}

// arcInstance reads i= (the AAR's value starts "i=N;", not a tag list).
func arcInstance(v string) (int, error) {
	for _, spec := range strings.Split(v, ";") {
		if name, val, ok := strings.Cut(spec, "="); ok && strings.TrimSpace(name) == "i" {
			return strconv.Atoi(strings.TrimSpace(val))
		}
	}
	return 0, errors.New("no i=")
}

func fieldValue(raw string) string {
	_, v, _ := strings.Cut(raw, ":")
	return v
}

// verifyAMS checks the newest ARC-Message-Signature like a DKIM
// signature: body hash, then the signed fields and itself without b=.
func verifyAMS(ctx context.Context, l *lookups, h *textproto.Header, ams string, simple, relaxed []byte) error {
	tags, err := ParseTags(fieldValue(ams))
	if err != nil {
		return err
	}
	if _, ok := tags["l"]; ok {
		return errors.New("l= not supported")
	}
	hc, bc, _ := strings.Cut(orDefault(tags["c"], "simple/simple"), "/")
	bh := simple
	if bc == "relaxed" {
		bh = relaxed
	}
	if base64.StdEncoding.EncodeToString(bh) != strings.Join(strings.Fields(tags["bh"]), "") {
		return errors.New("body hash mismatch")
	}
	var b strings.Builder
	for _, raw := range pickFields(h, strings.Split(tags["h"], ":")) {
		b.WriteString(canonField(raw, hc) + "\r\n")
	}
	b.WriteString(canonField(withoutB(ams), hc))
	return verifySig(ctx, l, tags, b.String())
}

// verifyAS checks the ARC-Seal of instance i over the sets 1..i.
func verifyAS(ctx context.Context, l *lookups, sets []arcSet, i int) error {
	tags, err := ParseTags(fieldValue(sets[i].as))
	if err != nil {
		return err
	}
	var b strings.Builder
	for j := 1; j <= i; j++ {
		b.WriteString(relaxedHeader(sets[j].aar) + "\r\n")
		b.WriteString(relaxedHeader(sets[j].ams) + "\r\n")
		if j < i {
			b.WriteString(relaxedHeader(sets[j].as) + "\r\n")
		}
	}
	b.WriteString(relaxedHeader(withoutB(sets[i].as)))
	return verifySig(ctx, l, tags, b.String())
}

// pickFields takes, for each name in order, the bottom-most occurrence
// not yet used (RFC 6376 5.4.2); a name with none left adds nothing.
func pickFields(h *textproto.Header, names []string) []string {
	byName := map[string][]string{}
	fields := h.Fields()
	for fields.Next() {
		if raw, err := fields.Raw(); err == nil {
			k := strings.ToLower(fields.Key())
			byName[k] = append(byName[k], string(raw))
		}
	}
	var out []string
	for _, n := range names {
		k := strings.ToLower(strings.TrimSpace(n))
		if vs := byName[k]; len(vs) > 0 {
			out = append(out, vs[len(vs)-1])
			byName[k] = vs[:len(vs)-1]
		}
	}
	return out
}

func canonField(raw, c string) string {
	if c == "relaxed" {
		return relaxedHeader(raw)
	}
	return strings.TrimSuffix(raw, "\r\n")
}

// withoutB empties the b= tag's value, keeping everything else as is.
func withoutB(raw string) string {
	name, value, _ := strings.Cut(raw, ":")
	specs := strings.Split(value, ";")
	for i, spec := range specs {
		if n, _, ok := strings.Cut(spec, "="); ok && strings.TrimSpace(n) == "b" {
			specs[i] = spec[:strings.Index(spec, "=")+1]
		}
	}
	return name + ":" + strings.Join(specs, ";")
}

// verifySig fetches the d=/s= key and checks b= over data (sha256).
func verifySig(ctx context.Context, l *lookups, tags map[string]string, data string) error {
	if tags["d"] == "" || tags["s"] == "" {
		return errors.New("no d= or s=")
	}
	sig, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(tags["b"]), ""))
	if err != nil {
		return err
	}
	txts, err := l.txt(ctx, strings.TrimSpace(tags["s"])+"._domainkey."+strings.TrimSpace(tags["d"]))
	if err != nil || len(txts) == 0 {
		return errors.New("no key")
	}
	pub, err := parsePublic(strings.Join(txts, ""))
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(data))
	switch a := strings.TrimSpace(tags["a"]); {
	case a == "rsa-sha256":
		if k, ok := pub.(*rsa.PublicKey); ok {
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig)
		}
	case a == "ed25519-sha256":
		if k, ok := pub.(ed25519.PublicKey); ok && ed25519.Verify(k, sum[:], sig) {
			return nil
		}
		return errors.New("bad signature")
	}
	return errors.New("unsupported algorithm")
}

// parsePublic reads a key record's p= for k=rsa (the default) or ed25519.
func parsePublic(txt string) (crypto.PublicKey, error) {
	tags, err := ParseTags(txt)
	if err != nil {
		return nil, err
	}
	p, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(tags["p"]), ""))
	if err != nil || len(p) == 0 {
		return nil, errors.New("bad or revoked p=")
	}
	if orDefault(tags["k"], "rsa") == "ed25519" {
		if len(p) != ed25519.PublicKeySize {
			return nil, errors.New("bad ed25519 key")
		}
		return ed25519.PublicKey(p), nil
	}
	if k, err := x509.ParsePKIXPublicKey(p); err == nil {
		return k, nil
	}
	return x509.ParsePKCS1PublicKey(p)
}
