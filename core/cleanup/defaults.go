package cleanup

import (
	"context"
	"strings"

	"github.com/moonpost/moonpost/core/policy"
)

// AppendOrigin is the Go default rewriter, Postfix's append_at_myorigin:
// a bare user name gets "@origin" appended, before any script sees it.
// Everything else is left alone.
type AppendOrigin struct{ Origin string }

// Rewrite implements policy.Rewriter.
func (a AppendOrigin) Rewrite(ctx context.Context, addr string, _ policy.AddrContext) (string, error) {
	if addr == "" || strings.Contains(addr, "@") || a.Origin == "" {
		return addr, nil
	}
	out := addr + "@" + a.Origin
	policy.TraceOf(ctx).Add("rewrite", "default: myorigin", addr+" -> "+out)
	return out, nil
}

// Chain runs rewriters in order, each on the previous one's result: the
// daemon's is AppendOrigin, then the scripts' rewrite handlers.
type Chain []policy.Rewriter

// Rewrite implements policy.Rewriter.
func (c Chain) Rewrite(ctx context.Context, addr string, ac policy.AddrContext) (string, error) {
	for _, r := range c {
		var err error
		if addr, err = r.Rewrite(ctx, addr, ac); err != nil {
			return "", err
		}
	}
	return addr, nil
}
