package auth

import (
	"crypto/sha256"
	"hash"
	"strings"
)

// Canonicalisation (RFC 6376 3.4), for the ARC checks written here; DKIM
// itself uses go-msgauth's.

// relaxedHeader canonicalises one raw field ("Name: value\r\n", folded
// or not) without its final CRLF.
func relaxedHeader(raw string) string {
	name, value, _ := strings.Cut(raw, ":")
	value = strings.NewReplacer("\r\n", "", "\n", "").Replace(value)
	return strings.ToLower(strings.TrimRight(name, " \t")) + ":" + strings.Join(strings.FieldsFunc(value, isWSP), " ")
}

func isWSP(r rune) bool { return r == ' ' || r == '\t' }

// bodyHasher hashes a body as it streams past, in both canonical forms
// at once (simple and relaxed), since which one a signature wants is
// known only from its c= tag.
type bodyHasher struct {
	simple, relaxed         hash.Hash
	line                    []byte // the current line, CRLF not included
	blankSimple, blankRelax int    // empty lines held back: trailing ones are dropped
}

func newBodyHasher() *bodyHasher {
	return &bodyHasher{simple: sha256.New(), relaxed: sha256.New()}
}

func (b *bodyHasher) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' {
			b.endLine(strings.TrimSuffix(string(b.line), "\r"))
			b.line = b.line[:0]
			continue
		}
		b.line = append(b.line, c)
	}
	return len(p), nil
}

func (b *bodyHasher) endLine(line string) {
	if line == "" {
		b.blankSimple++
	} else {
		for ; b.blankSimple > 0; b.blankSimple-- {
			b.simple.Write([]byte("\r\n"))
		}
		b.simple.Write([]byte(line + "\r\n"))
	}
	rl := strings.TrimRight(strings.Join(splitKeepEmpty(line), " "), " ")
	if rl == "" {
		b.blankRelax++
		return
	}
	for ; b.blankRelax > 0; b.blankRelax-- {
		b.relaxed.Write([]byte("\r\n"))
	}
	b.relaxed.Write([]byte(rl + "\r\n"))
}

// splitKeepEmpty reduces each run of WSP to one separator, keeping a
// leading run (relaxed body keeps leading whitespace as one SP).
func splitKeepEmpty(line string) []string {
	var out []string
	var cur strings.Builder
	inWSP := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == ' ' || c == '\t' {
			if !inWSP {
				out = append(out, cur.String())
				cur.Reset()
				inWSP = true
			}
			continue
		}
		inWSP = false
		cur.WriteByte(c)
	}
	return append(out, cur.String())
}

// sums finishes: the simple and the relaxed body hashes.
func (b *bodyHasher) sums() (simple, relaxed []byte) {
	if len(b.line) > 0 { // a last line without CRLF
		b.endLine(strings.TrimSuffix(string(b.line), "\r"))
		b.line = nil
	}
	// An empty body is one CRLF in simple, nothing in relaxed.
	s := b.simple
	if b.emptySimple() {
		s = sha256.New()
		s.Write([]byte("\r\n"))
	}
	return s.Sum(nil), b.relaxed.Sum(nil)
}

// emptySimple reports a body with no non-empty line.
func (b *bodyHasher) emptySimple() bool {
	empty := sha256.New().Sum(nil)
	return string(b.simple.Sum(nil)) == string(empty)
}

func sha256Sum(data string) []byte {
	sum := sha256.Sum256([]byte(data))
	return sum[:]
}
