package cleanup

import (
	"context"
	"io"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/internal/bufpool"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Simulate runs a message through everything Submit does before the
// queue file is written — hop check, address rewriting, missing headers,
// the cleanup policy (virtual aliases, holds, rejects) — and returns the
// envelope as it would be queued with the policy's verdict and the header
// as cleanup left it (nil with an error). Nothing is
// written. It is what `moonpost route` asks, so that the answer is the
// one real mail gets.
func (c *Cleanup) Simulate(ctx context.Context, env *queue.Envelope, r io.Reader) (policy.Verdict, *textproto.Header, error) {
	defer queue.Discard(r)
	norm := newNormalizer(r)
	defer norm.release()
	br := bufpool.Reader(norm)
	defer bufpool.PutReader(br)
	h, _, err := readHeader(br, c.headerLimit())
	if err != nil {
		return policy.Verdict{}, nil, dsn.HeaderTooBig
	}
	if st := c.prepare(ctx, env, &h); st != nil {
		return policy.Verdict{}, nil, st
	}
	v, err := c.policy(ctx, &policy.Message{Envelope: env, Header: &h})
	if err != nil {
		return policy.Verdict{}, nil, err
	}
	if v.Action == policy.Reject {
		return v, nil, v.Status
	}
	return v, &h, nil
}
