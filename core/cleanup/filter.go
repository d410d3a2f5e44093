package cleanup

import (
	"bytes"
	"context"
	"io"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Filter is a content filter that runs inside cleanup, after address
// rewriting and before the cleanup policy: the milters (core/milter).
//
// Filter may change env (sender, recipients) and h in place. It returns
// the body to queue: it may have read body to its end, so the returned
// reader is always the one cleanup writes. The verdict is Accept, Reject
// (with a 4xx/5xx Status), Hold (quarantine, with a Reason) or Discard.
// An error is an internal fault: the message is refused with 451 4.3.0,
// never accepted unfiltered. Filter decides itself which messages it
// applies to (env.Client tells where one came from).
type Filter interface {
	Filter(ctx context.Context, env *queue.Envelope, h *textproto.Header, body io.Reader) (io.Reader, policy.Verdict, error)
}

// filter runs c.Filter over the body that starts with first.
func (c *Cleanup) filter(ctx context.Context, env *queue.Envelope, h *textproto.Header, first []byte, rest io.Reader) (io.Reader, policy.Verdict, error) {
	body := rest
	if first != nil {
		body = io.MultiReader(bytes.NewReader(first), rest)
	}
	if c.Filter == nil {
		return body, policy.Verdict{Action: policy.Accept}, nil
	}
	return c.Filter.Filter(ctx, env, h, body)
}

// combine merges the filter's verdict with the cleanup policy's: a
// policy reject or discard wins, and a filter's hold survives a policy
// accept.
func combine(filtered, pol policy.Verdict) policy.Verdict {
	if filtered.Action == policy.Hold && pol.Action == policy.Accept {
		return filtered
	}
	return pol
}
