package lookup

import "testing"

// FuzzParseTables runs every table syntax (postmap "key value", aliases,
// regexp, cidr) over arbitrary text: an operator's broken file must be an
// error with a line number, never a panic, and a table that parsed must
// answer lookups without one either.
func FuzzParseTables(f *testing.F) {
	for _, s := range []string{
		"key value\n# comment\n\nother\tvalue two\n  continued\n",
		"postmaster: root\nroot: alice, \"|/usr/bin/cmd\", /var/mail/x\n",
		"/^(.*)@example\\.com$/ $1@example.org\n!/x/ y\nif /a/\n/b/ c\nendif\n",
		"192.0.2.0/24 REJECT\n2001:db8::/32 OK\n10.0.0.1 DUNNO\n",
		"/unterminated value\n", "/(/ x\n", "300.1.1.1/8 x\n", " leading continuation\n",
	} {
		f.Add(s, "alice@example.com")
	}
	parsers := []func(path, text string) (matcher, error){parseFile, parseAliases, parseRegexp, parseCIDR}
	f.Fuzz(func(t *testing.T, text, key string) {
		for _, parse := range parsers {
			m, err := parse("fuzz.tbl", text)
			if err != nil {
				continue
			}
			m.lookup(key)
			m.lookup("192.0.2.1")
		}
	})
}
