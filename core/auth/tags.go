package auth

import (
	"errors"
	"fmt"
	"strings"
)

// maxTagList bounds a tag list (a DKIM-Signature or a key record) read
// here; real ones are a few kilobytes at most.
const maxTagList = 64 << 10

// ParseTags reads an RFC 6376 section 3.2 tag list ("a=b; c=d"). Tag
// names are case-sensitive; values are kept with inner whitespace,
// trimmed at the ends. A repeated tag or a tag without "=" is an error.
func ParseTags(s string) (map[string]string, error) {
	if len(s) > maxTagList {
		return nil, errors.New("tag list too long")
	}
	tags := map[string]string{}
	for _, spec := range strings.Split(s, ";") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue // a trailing ";" is allowed
		}
		name, value, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("tag %q without a value", short(spec))
		}
		name = strings.TrimSpace(name)
		if !validTagName(name) {
			return nil, fmt.Errorf("bad tag name %q", short(name))
		}
		if _, dup := tags[name]; dup {
			return nil, fmt.Errorf("tag %s given twice", name)
		}
		tags[name] = strings.TrimSpace(value)
	}
	return tags, nil
}

// validTagName: ALPHA *(ALPHA / DIGIT / "_").
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '_')) {
			return false
		}
	}
	return true
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
