package classify

import (
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/moonpost/moonpost/core/dsn"
)

// defaultRules is the shipped rules file; Default parses it.
//
//go:embed default.rules
var defaultRules []byte

// DefaultName names the shipped rules in errors and in Rule.File.
const DefaultName = "(default rules)"

// Bounds on a rules file, so a mistaken path (a log file, a binary) is
// refused instead of compiled for minutes.
const (
	maxLineLen = 4096
	maxRules   = 10000
)

// Rule is one line of a rules file.
type Rule struct {
	Class   Class
	Pattern *regexp.Regexp // compiled case-insensitively
	pre     prefilter      // literals a match needs, see prefilter.go
	File    string         // where the rule was read, for Explain
	Line    int
}

// Rules is a parsed rules list, tried in order. It is immutable.
type Rules struct {
	rules []Rule
}

// LineError is a rules file line that does not parse.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// Parse reads rules, one "CLASS PATTERN" per line: a class name from
// Classes, white space, and an RE2 pattern (the rest of the line, white
// space around it removed) matched case-insensitively against
// "CODE ENHANCED TEXT". Blank lines and lines whose first non-blank
// character is # are skipped. The first line that does not parse is the
// error, as a *LineError naming name and the line number.
func Parse(name string, r io.Reader) (*Rules, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLineLen)
	rs := &Rules{}
	n := 0
	for sc.Scan() {
		n++
		rule, ok, err := parseLine(sc.Text())
		if err != nil {
			return nil, &LineError{name, n, err}
		}
		if !ok {
			continue
		}
		if len(rs.rules) == maxRules {
			return nil, &LineError{name, n, fmt.Errorf("more than %d rules", maxRules)}
		}
		rule.File, rule.Line = name, n
		rs.rules = append(rs.rules, rule)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", maxLineLen)
		}
		return nil, &LineError{name, n + 1, err}
	}
	return rs, nil
}

// parseLine reads one line; ok is false for a blank line or a comment.
func parseLine(line string) (Rule, bool, error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return Rule{}, false, nil
	}
	if !utf8.ValidString(line) {
		return Rule{}, false, errors.New("not UTF-8")
	}
	name, pat := line, ""
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		name, pat = line[:i], strings.TrimSpace(line[i+1:])
	}
	if !Known(name) {
		return Rule{}, false, fmt.Errorf("unknown class %q (known: %s)", name, Names())
	}
	if pat == "" {
		return Rule{}, false, fmt.Errorf("class %s without a pattern", name)
	}
	if _, err := syntax.Parse(pat, syntax.Perl); err != nil {
		return Rule{}, false, fmt.Errorf("bad pattern: %v", err) // names the pattern as written
	}
	re, err := regexp.Compile("(?i)" + pat)
	if err != nil {
		return Rule{}, false, fmt.Errorf("bad pattern: %v", err)
	}
	return Rule{Class: Class(name), Pattern: re, pre: newPrefilter(pat)}, true, nil
}

// Then is rs followed by more: rs's rules are tried first.
func (rs *Rules) Then(more *Rules) *Rules {
	all := make([]Rule, 0, len(rs.rules)+len(more.rules))
	return &Rules{rules: append(append(all, rs.rules...), more.rules...)}
}

// Len is the number of rules.
func (rs *Rules) Len() int { return len(rs.rules) }

var (
	defaultOnce sync.Once
	defaultSet  *Rules
)

// Default is the shipped rules. They are tested to parse; a failure
// here is a build defect, hence the panic.
func Default() *Rules {
	defaultOnce.Do(func() {
		rs, err := Parse(DefaultName, bytes.NewReader(defaultRules))
		if err != nil {
			panic("classify: shipped rules: " + err.Error())
		}
		defaultSet = rs
	})
	return defaultSet
}

// DefaultText is the shipped rules file, for an operator to copy.
func DefaultText() []byte { return bytes.Clone(defaultRules) }

// Load reads the rules file at path; withDefaults appends the shipped
// rules after it. An empty path is the shipped rules alone.
func Load(path string, withDefaults bool) (*Rules, error) {
	if path == "" {
		return Default(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rs, err := Parse(path, f)
	if err != nil {
		return nil, err
	}
	if withDefaults {
		rs = rs.Then(Default())
	}
	return rs, nil
}

// Match returns the first rule matching reply ("CODE ENHANCED TEXT"),
// or nil.
func (rs *Rules) Match(reply string) *Rule {
	lower, filter := "", isASCII(reply)
	if filter {
		lower = strings.ToLower(reply)
	}
	for i := range rs.rules {
		r := &rs.rules[i]
		if filter && !r.pre.may(lower) {
			continue
		}
		if r.Pattern.MatchString(reply) {
			return r
		}
	}
	return nil
}

// matchAll is Match without the prefilters, for tests.
func (rs *Rules) matchAll(reply string) *Rule {
	for i := range rs.rules {
		if rs.rules[i].Pattern.MatchString(reply) {
			return &rs.rules[i]
		}
	}
	return nil
}

// Classify gives the class of a failed or deferred outcome: the first
// matching rule's, else Transient for a 4xx and Unclassified for a 5xx.
// A success (or nil) has no class: "".
func (rs *Rules) Classify(st *dsn.Status) Class {
	c, _ := rs.Explain(st)
	return c
}

// Explain is Classify with the rule that decided (nil when none did).
func (rs *Rules) Explain(st *dsn.Status) (Class, *Rule) {
	if st == nil || st.OK() {
		return "", nil
	}
	if r := rs.Match(st.Error()); r != nil {
		return r.Class, r
	}
	if st.Temporary() {
		return Transient, nil
	}
	return Unclassified, nil
}
