package aliases

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// maxLine bounds one physical line; longer lines are a syntax error
// rather than an unbounded allocation.
const maxLine = 1 << 20

// SyntaxError is a parse failure at a place in a file.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Table is a parsed alias file.
type Table struct {
	// Entries maps lower-cased names to their targets, in file order.
	Entries map[string][]string
	// Warnings are harmless oddities (duplicate names), "file:line: text".
	Warnings []string
}

// Parse reads aliases(5) text. file names the source in errors. As
// newaliases does, the first of duplicate names wins and a warning is
// recorded.
func Parse(r io.Reader, file string) (*Table, error) {
	lines, err := logicalLines(r, file)
	if err != nil {
		return nil, err
	}
	t := &Table{Entries: make(map[string][]string, len(lines))}
	for _, l := range lines {
		name, targets, msg := parseEntry(l.text)
		if msg != "" {
			return nil, &SyntaxError{file, l.line, msg}
		}
		if _, dup := t.Entries[name]; dup {
			t.Warnings = append(t.Warnings, fmt.Sprintf("%s:%d: duplicate entry %q ignored", file, l.line, name))
			continue
		}
		t.Entries[name] = targets
	}
	return t, nil
}

// logical is one entry after joining continuation lines.
type logical struct {
	text string
	line int // where the entry starts
}

func logicalLines(r io.Reader, file string) ([]logical, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var out []logical
	n := 0
	for sc.Scan() {
		n++
		raw := strings.TrimRight(sc.Text(), "\r")
		text := strings.TrimSpace(raw)
		if text == "" || text[0] == '#' {
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			if len(out) == 0 {
				return nil, &SyntaxError{file, n, "continuation line without an entry"}
			}
			out[len(out)-1].text += " " + text
			continue
		}
		out = append(out, logical{text: text, line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, &SyntaxError{file, n + 1, err.Error()}
	}
	return out, nil
}

// parseEntry splits `name: value, value`. It returns a message on error.
func parseEntry(s string) (name string, targets []string, msg string) {
	var rest string
	if strings.HasPrefix(s, `"`) {
		q, n, ok := unquote(s)
		if !ok {
			return "", nil, "unterminated quoted name"
		}
		name, rest = q, strings.TrimLeft(s[n:], " \t")
		if !strings.HasPrefix(rest, ":") {
			return "", nil, "missing ':' after name"
		}
		rest = rest[1:]
	} else {
		var ok bool
		name, rest, ok = strings.Cut(s, ":")
		if !ok {
			return "", nil, "missing ':' after name"
		}
		name = strings.TrimSpace(name)
		if strings.ContainsAny(name, " \t") {
			return "", nil, fmt.Sprintf("white space in name %q (quote it)", name)
		}
	}
	if name == "" {
		return "", nil, "empty name"
	}
	targets, err := ParseTargets(rest)
	if err != nil {
		return "", nil, err.Error()
	}
	if len(targets) == 0 {
		return "", nil, fmt.Sprintf("alias %q has no targets", name)
	}
	return strings.ToLower(name), targets, ""
}

// ParseTargets splits a comma-separated target list (an alias value, or
// one line of an :include: file). Commas inside double quotes do not
// split; a target that is wholly quoted loses its quotes.
func ParseTargets(s string) ([]string, error) {
	var out []string
	for s != "" {
		item, rest, err := nextItem(s)
		if err != nil {
			return nil, err
		}
		item = strings.TrimSpace(item)
		if strings.HasPrefix(item, `"`) {
			if q, n, ok := unquote(item); ok && n == len(item) {
				item = q
			}
		}
		if item != "" {
			out = append(out, item)
		}
		s = rest
	}
	return out, nil
}

// nextItem returns the text up to the next comma outside quotes.
func nextItem(s string) (item, rest string, err error) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && inQuote:
			i++
		case s[i] == '"':
			inQuote = !inQuote
		case s[i] == ',' && !inQuote:
			return s[:i], s[i+1:], nil
		}
	}
	if inQuote {
		return "", "", fmt.Errorf("unterminated quote in %q", s)
	}
	return s, "", nil
}

// unquote reads a quoted string at the start of s ("a\"b" → a"b) and
// returns it with the number of bytes consumed.
func unquote(s string) (string, int, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), i + 1, true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, false
}
