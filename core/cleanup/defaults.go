package cleanup

import (
	"context"
	"strings"

	"github.com/moonpost/moonpost/core/policy"
)

// AppendOrigin is the Go default rewriter: a bare user name gets
// "@origin" appended (Postfix append_at_myorigin). Everything else is
// left alone.
type AppendOrigin struct{ Origin string }

// Rewrite implements policy.Rewriter.
func (a AppendOrigin) Rewrite(_ context.Context, addr string, _ policy.AddrContext) (string, error) {
	if addr == "" || strings.Contains(addr, "@") || a.Origin == "" {
		return addr, nil
	}
	return addr + "@" + a.Origin, nil
}
