package deliver

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// CheckOptions returns an error naming every key of opts that is not in
// known. Agents call it first and defer the whole request with
// dsn.ConfigError when it fails: a misspelt option in a transport hook
// ("mailbx") must hold the mail until the script is fixed, never deliver
// it somewhere the policy did not mean.
func CheckOptions(opts map[string]string, known ...string) error {
	var bad []string
	for k := range opts {
		if !slices.Contains(known, k) {
			bad = append(bad, fmt.Sprintf("%q", k))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	accepted := "none"
	if len(known) > 0 {
		accepted = strings.Join(known, ", ")
	}
	return fmt.Errorf("unknown transport option %s (this transport accepts: %s)", strings.Join(bad, ", "), accepted)
}
