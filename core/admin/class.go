package admin

import (
	"fmt"
	"strings"

	"github.com/moonpost/moonpost/core/classify"
)

// appendList adds the items of a comma list to l.
func appendList(l []string, value string) []string {
	for _, v := range strings.Split(value, ",") {
		if v = strings.TrimSpace(v); v != "" {
			l = append(l, v)
		}
	}
	return l
}

// compileClasses checks each class name: a typo is an error, never a
// selection of nothing (or, for a delete, of something else).
func (f *Filter) compileClasses(names []string) error {
	for _, c := range names {
		if !classify.Known(c) {
			return fmt.Errorf("class: unknown bounce class %q (known: %s)", c, classify.Names())
		}
		if f.Classes == nil {
			f.Classes = map[string]bool{}
		}
		f.Classes[c] = true
	}
	return nil
}

// classIn reports a pending recipient whose last failure has one of the
// classes.
func (e *Entry) classIn(classes map[string]bool) bool {
	for _, r := range e.Recipients {
		if r.State == "pending" && classes[r.Class] {
			return true
		}
	}
	return false
}
