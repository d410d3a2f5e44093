package resolve

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Sample is one envelope to compare two policies over: a queued
// message's, or one an operator wrote down.
type Sample struct {
	ID     string // queue ID, or "sample N"
	Sender string
	Rcpts  []string
	Size   int64
	Header []string // "Name: value" lines, as queued; nil for a written sample
}

// Change is one recipient that two policies decide differently.
type Change struct {
	ID, Rcpt        string
	Live, Candidate string
}

// Diff runs the live and candidate policies — cleanup (rewrites, cleanup
// hooks, their verdict) and the resolver (transport, next hop, options)
// — over every recipient of the samples and returns how many it checked
// and which differ. Nothing is queued or changed.
func Diff(ctx context.Context, live, cand *Explainer, samples []Sample) (checked int, changes []Change) {
	for _, s := range samples {
		for _, rcpt := range s.Rcpts {
			checked++
			a, b := live.decide(ctx, s, rcpt), cand.decide(ctx, s, rcpt)
			if a != b {
				changes = append(changes, Change{ID: s.ID, Rcpt: rcpt, Live: a, Candidate: b})
			}
		}
	}
	return checked, changes
}

// decide is one policy's answer for rcpt, as one comparable line.
func (x *Explainer) decide(ctx context.Context, s Sample, rcpt string) string {
	env := &queue.Envelope{ID: queue.ID(s.ID), Sender: s.Sender, Size: s.Size,
		Recipients: []queue.Recipient{{Addr: rcpt}}}
	v, h, err := x.Cleanup.Simulate(ctx, env, headerOnly(s.Header))
	if err != nil {
		return "refused: " + err.Error()
	}
	var parts []string
	if v.Action != policy.Accept {
		parts = append(parts, fmt.Sprintf("cleanup %v %s", v.Action, v.Reason))
	}
	if env.Sender != s.Sender {
		parts = append(parts, "sender "+env.Sender)
	}
	uncached := *x.Resolver
	uncached.Cache = nil
	ctx = policy.WithHeader(ctx, func() (*textproto.Header, error) { return h, nil })
	for _, r := range env.Recipients {
		d, err := uncached.Resolve(ctx, r.Addr, env)
		if err != nil {
			parts = append(parts, r.Addr+" deferred ("+err.Error()+")")
			continue
		}
		parts = append(parts, r.Addr+" "+describeDest(d))
	}
	return strings.Join(parts, "; ")
}

func describeDest(d Destination) string {
	s := d.Transport + ":" + d.Nexthop
	names := make([]string, 0, len(d.Options))
	for k := range d.Options {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s += " " + k + "=" + d.Options[k]
	}
	return s
}

// PrintDiff writes Diff's answer for people.
func PrintDiff(w io.Writer, messages, checked int, changes []Change) {
	fmt.Fprintf(w, "checked: %d recipients of %d messages\nchanged: %d\n", checked, messages, len(changes))
	for _, c := range changes {
		fmt.Fprintf(w, "%s %s\n  live:      %s\n  candidate: %s\n", c.ID, c.Rcpt, c.Live, c.Candidate)
	}
}

// ParseSamples reads envelopes, one a line: "SENDER RCPT [RCPT...]",
// with "<>" for the null sender; blank lines and "#" comments are
// skipped.
func ParseSamples(r io.Reader) ([]Sample, error) {
	b, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, err
	}
	var out []Sample
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return nil, fmt.Errorf("line %d: want SENDER RCPT [RCPT...]", n+1)
		}
		sender := f[0]
		if sender == "<>" {
			sender = ""
		}
		for _, a := range f {
			if len(a) > 512 || strings.ContainsAny(a, "\x00<>") && a != "<>" {
				return nil, fmt.Errorf("line %d: invalid address %q", n+1, a)
			}
		}
		out = append(out, Sample{ID: fmt.Sprintf("sample-%d", n+1), Sender: sender, Rcpts: f[1:]})
	}
	return out, nil
}
