package mtasts

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Mode is a policy's mode (RFC 8461 §5).
type Mode string

const (
	// Enforce: deliver only to MX hosts the policy names, over TLS with
	// a certificate verified for the MX name; otherwise defer.
	Enforce Mode = "enforce"
	// Testing: deliver as usual, and report what enforce would refuse.
	Testing Mode = "testing"
	// None: the domain has withdrawn its policy; treat as no policy.
	None Mode = "none"
)

// MaxAgeLimit is the largest max_age a policy may give (RFC 8461 §3.2,
// about one year).
const MaxAgeLimit = 31557600 * time.Second

// Policy is a parsed MTA-STS policy.
type Policy struct {
	Mode Mode
	// MX are the mx patterns, lower case without a trailing dot: a host
	// name, or "*." and a domain, which matches one more label.
	MX     []string
	MaxAge time.Duration
	// Lines are the policy's non-empty lines as published, for the
	// policy-string of a TLS report (RFC 8460 §4.4).
	Lines []string
}

// Match reports whether host, an MX host name, is allowed by one of the
// policy's mx patterns (RFC 8461 §4.1): the name itself, or for
// "*.example.com" any name with exactly one label before example.com.
func (p *Policy) Match(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		if matchPattern(pat, host) {
			return true
		}
	}
	return false
}

func matchPattern(pat, host string) bool {
	rest, wild := strings.CutPrefix(pat, "*.")
	if !wild {
		return host == pat
	}
	label, ok := strings.CutSuffix(host, "."+rest)
	return ok && label != "" && !strings.Contains(label, ".")
}

// ParsePolicy reads a policy body (RFC 8461 §3.2): "key: value" lines
// ended by LF or CRLF. version (STSv1), mode and max_age must appear
// exactly once, mx at least once unless the mode is none; unknown keys
// are ignored, as the RFC asks, but must still be well formed.
func ParsePolicy(body []byte) (*Policy, error) {
	p := &Policy{}
	seen := map[string]bool{}
	for n, line := range bytes.Split(body, []byte("\n")) {
		s := strings.TrimSuffix(string(line), "\r")
		if strings.TrimRight(s, " \t") == "" {
			continue // a trailing newline, or a blank line
		}
		key, val, err := splitField(s)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if err := p.set(key, val, seen); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		p.Lines = append(p.Lines, s)
	}
	return p, p.complete(seen)
}

// splitField cuts "key: value" and checks both against the RFC's ABNF.
func splitField(s string) (key, val string, err error) {
	key, val, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", errors.New("no ':' in line")
	}
	if !validName(key) {
		return "", "", fmt.Errorf("bad field name %q", key)
	}
	val = strings.Trim(val, " \t")
	if val == "" {
		return "", "", fmt.Errorf("field %s: empty value", key)
	}
	for i := 0; i < len(val); i++ {
		if c := val[i]; c != ' ' && c != '\t' && (c < 0x21 || c > 0x7e) {
			return "", "", fmt.Errorf("field %s: bad character %q", key, c)
		}
	}
	return strings.ToLower(key), val, nil
}

// validName: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
func validName(s string) bool {
	if s == "" || len(s) > 32 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *Policy) set(key, val string, seen map[string]bool) error {
	if key != "mx" && seen[key] && known(key) {
		return fmt.Errorf("field %s given twice", key)
	}
	seen[key] = true
	switch key {
	case "version":
		if val != "STSv1" {
			return fmt.Errorf("version %q: want STSv1", val)
		}
	case "mode":
		m := Mode(strings.ToLower(val))
		if m != Enforce && m != Testing && m != None {
			return fmt.Errorf("mode %q: want enforce, testing or none", val)
		}
		p.Mode = m
	case "max_age":
		d, err := parseMaxAge(val)
		if err != nil {
			return err
		}
		p.MaxAge = d
	case "mx":
		pat, err := parsePattern(val)
		if err != nil {
			return err
		}
		p.MX = append(p.MX, pat)
	}
	return nil
}

func known(key string) bool {
	return key == "version" || key == "mode" || key == "max_age"
}

// parseMaxAge reads 1*10DIGIT seconds, at most MaxAgeLimit.
func parseMaxAge(val string) (time.Duration, error) {
	if len(val) > 10 || strings.Trim(val, "0123456789") != "" {
		return 0, fmt.Errorf("max_age %q: want up to 10 digits", val)
	}
	n, _ := strconv.ParseInt(val, 10, 64)
	if d := time.Duration(n) * time.Second; d <= MaxAgeLimit {
		return d, nil
	}
	return 0, fmt.Errorf("max_age %s: more than %d", val, int64(MaxAgeLimit/time.Second))
}

// parsePattern reads ["*."] Domain, a host name of LDH labels.
func parsePattern(val string) (string, error) {
	v := strings.ToLower(strings.TrimSuffix(val, "."))
	name := strings.TrimPrefix(v, "*.")
	if !validHost(name) || !strings.Contains(name, ".") && name != v {
		return "", fmt.Errorf("mx %q: not a host name or *.domain pattern", val)
	}
	return v, nil
}

// validHost accepts an ASCII host name of letters, digits and hyphens
// (A-labels for IDNs), labels of 1 to 63, at most 253 in all.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) && l[i] != '-' && l[i] != '_' {
				return false
			}
		}
	}
	return true
}

// complete checks the required fields once the body is read.
func (p *Policy) complete(seen map[string]bool) error {
	for _, f := range []string{"version", "mode", "max_age"} {
		if !seen[f] {
			return fmt.Errorf("policy has no %s field", f)
		}
	}
	if len(p.MX) == 0 && p.Mode != None {
		return errors.New("policy has no mx field")
	}
	return nil
}

// ParseRecord reads the TXT records at _mta-sts.<domain> (RFC 8461
// §3.1) and returns the policy id. Records whose first field is not
// "v=STSv1" are not ours and are skipped; none left, or more than one,
// is an error (the domain has no usable policy record).
func ParseRecord(txts []string) (string, error) {
	var id string
	n := 0
	for _, t := range txts {
		if v, _, _ := strings.Cut(t, ";"); strings.TrimRight(v, " \t") != "v=STSv1" {
			continue
		}
		n++
		var err error
		if id, err = recordID(t); err != nil {
			return "", err
		}
	}
	switch {
	case n == 0:
		return "", errors.New("no v=STSv1 TXT record")
	case n > 1:
		return "", errors.New("more than one v=STSv1 TXT record")
	}
	return id, nil
}

// recordID reads "v=STSv1; id=...;" with optional extension fields.
func recordID(t string) (string, error) {
	fields := strings.Split(t, ";")
	if strings.TrimRight(fields[0], " \t") != "v=STSv1" {
		return "", fmt.Errorf("record %q: bad version field", t)
	}
	var id string
	for _, f := range fields[1:] {
		f = strings.Trim(f, " \t")
		if f == "" {
			continue // the optional ';' at the end
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok || !validName(k) {
			return "", fmt.Errorf("record %q: bad field %q", t, f)
		}
		if k == "id" {
			if id != "" || !validID(v) {
				return "", fmt.Errorf("record %q: bad or repeated id", t)
			}
			id = v
		}
	}
	if id == "" {
		return "", fmt.Errorf("record %q: no id", t)
	}
	return id, nil
}

// validID: 1*32(ALPHA / DIGIT).
func validID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}
