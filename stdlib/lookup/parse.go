package lookup

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// logicalLines yields non-blank, non-comment lines with Postfix's
// continuation rule (a line starting with white space continues the
// previous one) and the number of the line each starts on.
func logicalLines(text string, f func(line string, n int) error) error {
	var cur string
	start := 0
	flush := func() error {
		if cur == "" {
			return nil
		}
		err := f(cur, start)
		cur = ""
		return err
	}
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur == "" {
				return fmt.Errorf("line %d: continuation without a previous line", i+1)
			}
			cur += " " + trimmed
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		cur, start = line, i+1
	}
	return flush()
}

func tableErr(path string, err error) error {
	return fmt.Errorf("lookup: %s: %w", path, err)
}

// hashTable is a "key value" table (postmap source) or an alias table.
type hashTable map[string]any

func (h hashTable) lookup(key string) (any, bool) {
	v, ok := h[strings.ToLower(key)]
	return v, ok
}

func parseFile(path, text string) (matcher, error) {
	h := hashTable{}
	err := logicalLines(text, func(line string, n int) error {
		key, val, ok := strings.Cut(strings.TrimSpace(line), " ")
		if k2, v2, ok2 := strings.Cut(strings.TrimSpace(line), "\t"); ok2 && (!ok || len(k2) < len(key)) {
			key, val, ok = k2, v2, true
		}
		val = strings.TrimSpace(val)
		if !ok || val == "" {
			return fmt.Errorf("line %d: expected \"key value\"", n)
		}
		key = strings.ToLower(key)
		if _, dup := h[key]; !dup { // like postmap: the first entry wins
			h[key] = val
		}
		return nil
	})
	if err != nil {
		return nil, tableErr(path, err)
	}
	return h, nil
}

func parseAliases(path, text string) (matcher, error) {
	h := hashTable{}
	err := logicalLines(text, func(line string, n int) error {
		name, rest, ok := strings.Cut(line, ":")
		name = strings.ToLower(strings.Trim(strings.TrimSpace(name), `"`))
		if !ok || name == "" {
			return fmt.Errorf("line %d: expected \"name: target, ...\"", n)
		}
		targets := splitTargets(rest)
		if len(targets) == 0 {
			return fmt.Errorf("line %d: alias %q has no targets", n, name)
		}
		if _, dup := h[name]; !dup {
			h[name] = targets
		}
		return nil
	})
	if err != nil {
		return nil, tableErr(path, err)
	}
	return h, nil
}

// splitTargets splits at commas outside double quotes, so
// "|/usr/bin/filter -a, -b" stays one target.
func splitTargets(s string) []string {
	var out []string
	var b strings.Builder
	quoted := false
	add := func() {
		if t := strings.TrimSpace(b.String()); t != "" {
			out = append(out, strings.Trim(t, `"`))
		}
		b.Reset()
	}
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			b.WriteRune(r)
		case r == ',' && !quoted:
			add()
		default:
			b.WriteRune(r)
		}
	}
	add()
	return out
}

type regexpRule struct {
	re     *regexp.Regexp
	negate bool
	result string
}

type regexpTable []regexpRule

func (rt regexpTable) lookup(key string) (any, bool) {
	for _, r := range rt {
		m := r.re.FindStringSubmatchIndex(key)
		if r.negate {
			if m == nil {
				return r.result, true
			}
			continue
		}
		if m != nil {
			return string(r.re.ExpandString(nil, r.result, key, m)), true
		}
	}
	return nil, false
}

func parseRegexp(path, text string) (matcher, error) {
	var rt regexpTable
	err := logicalLines(text, func(line string, n int) error {
		r, err := parseRegexpRule(line)
		if err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		rt = append(rt, r)
		return nil
	})
	if err != nil {
		return nil, tableErr(path, err)
	}
	return rt, nil
}

func parseRegexpRule(line string) (regexpRule, error) {
	var r regexpRule
	if strings.HasPrefix(line, "!") {
		r.negate, line = true, line[1:]
	}
	if !strings.HasPrefix(line, "/") {
		return r, fmt.Errorf("expected /pattern/")
	}
	end := closingSlash(line)
	if end < 0 {
		return r, fmt.Errorf("missing closing /")
	}
	pat := line[1:end]
	flags, result, _ := strings.Cut(line[end+1:], " ")
	if i := strings.IndexByte(flags, '\t'); i >= 0 {
		flags, result = flags[:i], flags[i+1:]+" "+result
	}
	result = strings.TrimSpace(result)
	if result == "" {
		return r, fmt.Errorf("missing result")
	}
	insensitive := true // Postfix's default; the i flag toggles it
	for _, f := range flags {
		if f != 'i' {
			return r, fmt.Errorf("unsupported flag %q", f)
		}
		insensitive = !insensitive
	}
	if insensitive {
		pat = "(?i)" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return r, err
	}
	r.re, r.result = re, result
	return r, nil
}

// closingSlash finds the / that ends a /pattern/, skipping \/ escapes.
func closingSlash(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '/':
			return i
		}
	}
	return -1
}

type cidrRule struct {
	prefix netip.Prefix
	result string
}

type cidrTable []cidrRule

func (ct cidrTable) lookup(key string) (any, bool) {
	addr, err := netip.ParseAddr(strings.Trim(key, "[]"))
	if err != nil {
		return nil, false
	}
	addr = addr.Unmap()
	for _, r := range ct {
		if r.prefix.Contains(addr) {
			return r.result, true
		}
	}
	return nil, false
}

func parseCIDR(path, text string) (matcher, error) {
	var ct cidrTable
	err := logicalLines(text, func(line string, n int) error {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return fmt.Errorf("line %d: expected \"network/bits result\"", n)
		}
		p, err := parsePrefix(fields[0])
		if err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		ct = append(ct, cidrRule{prefix: p, result: strings.Join(fields[1:], " ")})
		return nil
	})
	if err != nil {
		return nil, tableErr(path, err)
	}
	return ct, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.Trim(s, "[]")
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%s has host bits set", s)
	}
	return p, nil
}
