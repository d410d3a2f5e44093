package classify

import (
	"regexp/syntax"
	"strings"
)

// A prefilter is a set of lower-case literals of which every match of a
// rule's pattern contains at least one, so a reply containing none of
// them is not run through the pattern at all. The shipped rules are
// mostly alternations of words; without it each failure ran every
// pattern over the whole reply. nil means no such set is known: the
// pattern always runs.
//
// The check is exact for ASCII replies, the rule for SMTP; a reply with
// other bytes skips the prefilters, and a literal with other runes gives
// none, since Unicode case folding (ſ for s, K for k) is wider than
// strings.ToLower.
type prefilter []string

// maxLiterals bounds a prefilter; a pattern needing more always runs.
const maxLiterals = 64

// newPrefilter derives the literals of pattern pat, as parsed by Parse.
func newPrefilter(pat string) prefilter {
	re, err := syntax.Parse(pat, syntax.Perl|syntax.FoldCase)
	if err != nil {
		return nil
	}
	lits := required(re.Simplify())
	for _, l := range lits {
		if l == "" {
			return nil
		}
	}
	return lits
}

// required returns literals one of which every match of re contains,
// or nil when none are known.
func required(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		if !isASCII(s) {
			return nil // ſ folds to an ASCII s, K to k: leave folding to the pattern
		}
		return []string{strings.ToLower(s)}
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		var best []string
		for _, sub := range re.Sub {
			if l := required(sub); l != nil && better(l, best) {
				best = l
			}
		}
		return best
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			l := required(sub)
			if l == nil || len(all)+len(l) > maxLiterals {
				return nil
			}
			all = append(all, l...)
		}
		return all
	}
	return nil
}

// better prefers the set whose shortest literal is longer: fewer false
// hits.
func better(a, b []string) bool {
	if b == nil {
		return true
	}
	return shortest(a) > shortest(b)
}

func shortest(l []string) int {
	n := -1
	for _, s := range l {
		if n < 0 || len(s) < n {
			n = len(s)
		}
	}
	return n
}

// may reports whether lower (a lower-cased ASCII reply) can match.
func (p prefilter) may(lower string) bool {
	if p == nil {
		return true
	}
	for _, l := range p {
		if strings.Contains(lower, l) {
			return true
		}
	}
	return false
}

// isASCII reports whether s has only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
