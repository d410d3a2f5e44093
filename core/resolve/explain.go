package resolve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Simulator runs a message through cleanup without queueing it (see
// cleanup.Cleanup.Simulate): it rewrites env in place and returns the
// policy's verdict and the header as cleanup left it, or the error real
// mail would get.
type Simulator interface {
	Simulate(ctx context.Context, env *queue.Envelope, r io.Reader) (policy.Verdict, *textproto.Header, error)
}

// Explainer answers "what happens to mail for this address?" by running
// the daemon's own parts — cleanup (rewriting, the cleanup hooks and
// their virtual aliases), the resolver (transport hooks, the Go default,
// the checks), then the aliases of local recipients — and printing each
// step with the script position that decided it, as Postfix's
// sendmail -bv does. It is what `moonpost route` runs, in the daemon
// through the control socket or standalone.
type Explainer struct {
	Cleanup  Simulator
	Resolver *Resolver
	Aliases  policy.Aliases // nil: no alias step
	// RecipientDelimiter splits "user+ext" for the alias lookup, as the
	// local agent does ("" for none).
	RecipientDelimiter string
	// Egress, when set, describes the egress shaping the queue manager
	// would apply to a destination ("" for the defaults), asking the
	// egress hook afresh; ErrNoEgress: the scripts have no egress hook,
	// and the step is not shown.
	Egress func(ctx context.Context, d Destination, tenant string) (string, error)
}

// maxExplainDepth bounds alias expansion, as a loop guard: the local
// agent has its own, stricter, checks.
const maxExplainDepth = 5

// Explain prints the route of mail from sender to addr, with the given
// header lines ("Name: value"), to w.
func (x *Explainer) Explain(ctx context.Context, w io.Writer, addr, sender string, header []string) error {
	return x.explain(ctx, w, addr, sender, header, "")
}

func (x *Explainer) explain(ctx context.Context, w io.Writer, addr, sender string, header []string, indent string) error {
	ctx, trace := policy.WithTrace(ctx)
	env := &queue.Envelope{Sender: sender, Recipients: []queue.Recipient{{Addr: addr}}}
	v, h, err := x.Cleanup.Simulate(ctx, env, headerOnly(header))
	one := err == nil && len(env.Recipients) == 1
	if one && env.Recipients[0].Addr != addr {
		fmt.Fprintf(w, "%srecipient: %s -> %s\n", indent, addr, env.Recipients[0].Addr)
	} else {
		fmt.Fprintf(w, "%srecipient: %s\n", indent, addr)
	}
	printSteps(w, indent+"  ", trace.Take())
	if err != nil {
		fmt.Fprintf(w, "%s  refused: %v\n", indent, err)
		return nil
	}
	if sender != "" && env.Sender != sender {
		fmt.Fprintf(w, "%s  sender: %s -> %s\n", indent, sender, env.Sender)
	}
	if v.Action != policy.Accept {
		fmt.Fprintf(w, "%s  cleanup: %v %s\n", indent, v.Action, v.Reason)
		if v.Action == policy.Discard {
			return nil
		}
	}
	rctx := policy.WithHeader(ctx, func() (*textproto.Header, error) { return h, nil })
	for _, r := range env.Recipients {
		if !one {
			fmt.Fprintf(w, "%s  queued: %s\n", indent, r.Addr)
		}
		if err := x.route(rctx, trace, w, env, r.Addr, indent+"  "); err != nil {
			return err
		}
	}
	return nil
}

// route prints one queued recipient's destination and, for local ones,
// its aliases; each address target is explained again from cleanup, as
// the local agent forwards it through cleanup.
func (x *Explainer) route(ctx context.Context, trace *policy.Trace, w io.Writer, env *queue.Envelope, rcpt, indent string) error {
	uncached := *x.Resolver // a cached answer would not say who decided
	uncached.Cache = nil
	d, err := uncached.Resolve(ctx, rcpt, env)
	steps := trace.Take()
	if err != nil {
		printSteps(w, indent, steps)
		fmt.Fprintf(w, "%stransport: deferred (%v)\n", indent, err)
		return nil
	}
	by := "default: mydestination, relayhost, MX"
	for _, s := range steps {
		if s.Event == "transport" {
			by = s.Where
		}
	}
	fmt.Fprintf(w, "%stransport: %s  (%s)\n%snexthop: %s\n", indent, d.Transport, by, indent, explainNexthop(d, rcpt))
	names := make([]string, 0, len(d.Options))
	for k := range d.Options {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "%soption: %s=%s\n", indent, k, d.Options[k])
	}
	x.egress(ctx, trace, w, env, d, indent)
	if d.Transport != "local" || x.Aliases == nil || len(indent) >= 4*maxExplainDepth {
		return nil
	}
	return x.aliases(ctx, w, env.Sender, rcpt, indent)
}

// ErrNoEgress is Explainer.Egress's answer when no egress hook exists.
var ErrNoEgress = errors.New("no egress hook")

// egress prints the shaping of d's destination and the script line
// that chose it.
func (x *Explainer) egress(ctx context.Context, trace *policy.Trace, w io.Writer, env *queue.Envelope, d Destination, indent string) {
	if x.Egress == nil {
		return
	}
	shaping, err := x.Egress(ctx, d, env.Tenant)
	if errors.Is(err, ErrNoEgress) {
		return
	}
	steps := trace.Take()
	by := "defaults: queue.destination_concurrency, queue.initial_concurrency"
	for _, s := range steps {
		if s.Event == "egress" {
			by = s.Where
		}
	}
	switch {
	case err != nil:
		fmt.Fprintf(w, "%segress: deferred (%v)\n", indent, err)
	case shaping == "":
		fmt.Fprintf(w, "%segress: defaults  (%s)\n", indent, by)
	default:
		fmt.Fprintf(w, "%segress: %s  (%s)\n", indent, shaping, by)
	}
}

// aliases looks up the whole local part, then the part before the
// recipient delimiter, as the local agent does.
func (x *Explainer) aliases(ctx context.Context, w io.Writer, sender, rcpt, indent string) error {
	ctx, trace := policy.WithTrace(ctx)
	local, domain := Split(rcpt)
	names := []string{strings.ToLower(local)}
	if x.RecipientDelimiter != "" {
		if i := strings.IndexAny(local, x.RecipientDelimiter); i > 0 {
			names = append(names, strings.ToLower(local[:i]))
		}
	}
	for _, name := range names {
		targets, found, err := x.Aliases.ExpandAlias(ctx, name, domain)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		by := "aliases"
		for _, s := range trace.Take() {
			by = s.Where
		}
		fmt.Fprintf(w, "%salias: %s  (%s)\n", indent, strings.Join(targets, ", "), by)
		for _, t := range targets {
			if strings.HasPrefix(t, "|") || strings.HasPrefix(t, "/") || strings.HasPrefix(t, ":include:") ||
				strings.EqualFold(t, name) || strings.EqualFold(t, name+"@"+domain) {
				continue // delivered by the local agent itself
			}
			if err := x.explain(ctx, w, t, sender, nil, indent+"  "); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintf(w, "%salias: none (mailbox)\n", indent)
	return nil
}

func printSteps(w io.Writer, indent string, steps []policy.Step) {
	for _, s := range steps {
		if s.Event == "transport" {
			continue // printed with the destination
		}
		fmt.Fprintf(w, "%s%s: %s  (%s)\n", indent, s.Event, s.Outcome, s.Where)
	}
}

// explainNexthop says how the agents read a next hop.
func explainNexthop(d Destination, rcpt string) string {
	if d.Transport == "smtp" && d.Nexthop != "" && !strings.HasPrefix(d.Nexthop, "[") {
		return d.Nexthop + " (MX lookup)"
	}
	if d.Nexthop == "" {
		_, dom := Split(rcpt)
		return "(none; recipient domain " + dom + ")"
	}
	return d.Nexthop
}

// headerOnly is a message of the given header lines ("Name: value") and
// no body, for cleanup to run over.
func headerOnly(lines []string) io.Reader {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return strings.NewReader(b.String())
}
