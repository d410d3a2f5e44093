package aliases

import (
	"strings"
	"testing"
)

// FuzzParse checks that no input panics and that what parses keeps the
// table's promises: lower-case non-empty names, non-empty targets.
func FuzzParse(f *testing.F) {
	f.Add("root: admin, \"|/bin/cmd a\"\n\t/var/x\n")
	f.Add("\"a b\": :include:/x\n# c\n")
	f.Fuzz(func(t *testing.T, text string) {
		tab, err := Parse(strings.NewReader(text), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		for name, targets := range tab.Entries {
			if name == "" || name != strings.ToLower(name) {
				t.Fatalf("bad name %q", name)
			}
			if len(targets) == 0 {
				t.Fatalf("%q: no targets", name)
			}
			for _, tg := range targets {
				if tg == "" {
					t.Fatalf("%q: empty target", name)
				}
			}
		}
	})
}
