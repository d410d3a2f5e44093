package pipe

import (
	"fmt"
	"strings"
)

// macros lists the ${name} macros an argv element may use. true marks a
// per-recipient macro: an element using one is repeated per recipient.
var macros = map[string]bool{
	"sender":             false,
	"nexthop":            false,
	"queue_id":           false,
	"recipient":          true,
	"original_recipient": true,
	"user":               true,
	"extension":          true,
	"domain":             true,
	"mailbox":            true,
}

// piece is a literal text or a macro reference.
type piece struct {
	text  string
	macro bool
}

// template is one argv element, parsed once.
type template struct {
	pieces  []piece
	perRcpt bool // uses a per-recipient macro
}

// parseArgv parses every element. Syntax: "${name}" is a macro, "$$" a
// literal "$"; any other "$" is literal, so shell text passed to
// "/bin/sh -c" keeps its own $variables.
func parseArgv(argv []string) ([]template, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	if strings.Contains(argv[0], "${") {
		return nil, fmt.Errorf("macro in program name %q", argv[0])
	}
	tpls := make([]template, len(argv))
	for i, el := range argv {
		t, err := parseElem(el)
		if err != nil {
			return nil, fmt.Errorf("argv[%d] %q: %w", i, el, err)
		}
		tpls[i] = t
	}
	return tpls, nil
}

func parseElem(s string) (template, error) {
	var t template
	var lit strings.Builder
	for s != "" {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			lit.WriteString(s)
			break
		}
		lit.WriteString(s[:i])
		switch s[i+1] {
		case '$':
			lit.WriteByte('$')
			s = s[i+2:]
			continue
		case '{':
		default:
			lit.WriteByte('$')
			s = s[i+1:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return t, fmt.Errorf("unterminated macro")
		}
		name := s[i+2 : i+end]
		per, ok := macros[name]
		if !ok {
			return t, fmt.Errorf("unknown macro ${%s}", name)
		}
		if lit.Len() > 0 {
			t.pieces = append(t.pieces, piece{text: lit.String()})
			lit.Reset()
		}
		t.pieces = append(t.pieces, piece{text: name, macro: true})
		t.perRcpt = t.perRcpt || per
		s = s[i+end+1:]
	}
	if lit.Len() > 0 || len(t.pieces) == 0 {
		t.pieces = append(t.pieces, piece{text: lit.String()})
	}
	return t, nil
}

// splitArgv splits "argv=/usr/bin/cmd a b" on white space, as Postfix
// master.cf does. It reports false when s has no "argv=" prefix.
func splitArgv(s string) ([]string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "argv=")
	if !ok {
		return nil, false
	}
	return strings.Fields(rest), true
}

// expand renders the templates. global holds the per-message macros;
// each element of rcpts the per-recipient ones.
func expand(tpls []template, global map[string]string, rcpts []map[string]string) []string {
	var argv []string
	for _, t := range tpls {
		if !t.perRcpt {
			argv = append(argv, t.render(global, nil))
			continue
		}
		for _, r := range rcpts {
			argv = append(argv, t.render(global, r))
		}
	}
	return argv
}

func (t template) render(global, rcpt map[string]string) string {
	var b strings.Builder
	for _, p := range t.pieces {
		switch {
		case !p.macro:
			b.WriteString(p.text)
		case macros[p.text]:
			b.WriteString(rcpt[p.text])
		default:
			b.WriteString(global[p.text])
		}
	}
	return b.String()
}
