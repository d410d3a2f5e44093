package deliver

import (
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/moonpost/moonpost/core/dsn"
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

// RefuseOptions is the check for agents that take no options: nil when
// the route set none, else a deferral (4.3.5) for every recipient, since
// such a route was meant for another transport and acting on it could
// lose the mail.
func RefuseOptions(log *slog.Logger, req *Request) []Result {
	err := CheckOptions(req.Options)
	if err == nil {
		return nil
	}
	log.Error("route refused", "queue_id", req.QueueID, "err", err)
	return AllResults(len(req.Recipients), dsn.ConfigError, "none")
}
