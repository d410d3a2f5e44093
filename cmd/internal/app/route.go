package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/resolve"
	"github.com/moonpost/moonpost/hooks"
)

// maxRouteDepth bounds alias expansion in `moonpost route`, as a loop
// guard: the local agent has its own, stricter, checks.
const maxRouteDepth = 5

// routeCmd prints what the policy scripts decide for one recipient: the
// envelope rewrite, the transport and next hop, and for local
// recipients the alias expansion, each target routed in turn.
func routeCmd(args []string) int {
	cfgPath, rest, err := configFlag(args)
	addr, sender, ok := routeArgs(rest)
	if err != nil || !ok {
		fmt.Fprintln(os.Stderr, "usage: moonpost route [-c file] ADDRESS [--sender S]")
		return exUsage
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exConfig
	}
	eng, dir, done, err := loadScripts(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "moonpost: scripts in %s: %v\n", shown(cfg, dir), err)
		return exConfig
	}
	defer done()
	r := router{eng: eng, res: routeResolver(cfg, eng), out: os.Stdout}
	if err := r.show(addr, sender); err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exTempFail
	}
	return exOK
}

// routeArgs takes ADDRESS and an optional --sender S in any order.
func routeArgs(args []string) (addr, sender string, ok bool) {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--sender" || a == "-sender" || a == "-f":
			if i+1 >= len(args) {
				return "", "", false
			}
			sender = args[i+1]
			i++
		case strings.HasPrefix(a, "--sender="):
			sender = strings.TrimPrefix(a, "--sender=")
		case addr == "" && !strings.HasPrefix(a, "-"):
			addr = a
		default:
			return "", "", false
		}
	}
	return addr, sender, addr != ""
}

// router prints decisions of one engine.
type router struct {
	eng *hooks.Engine
	res *resolve.Resolver // the engine's routes, the Go default and the checks
	out io.Writer
}

// routeResolver resolves as the daemon does, for the agents cfg defines.
func routeResolver(cfg *config.Config, eng *hooks.Engine) *resolve.Resolver {
	transports := map[string]bool{"smtp": true, "lmtp": true, "local": true, "pipe": true, "discard": true, "error": true}
	for name := range cfg.Pipes {
		transports[name] = true
	}
	return newRecipientResolver(cfg, &policies{router: eng, engine: eng}, transports)
}

func (r router) show(addr, sender string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, _ := r.eng.Generation()
	fmt.Fprintf(r.out, "generation: %d\n", n)
	env := &queue.Envelope{Sender: sender}
	if sender != "" {
		s, err := r.eng.Rewrite(ctx, sender, policy.AddrContext{Role: "sender", Where: "envelope"})
		if err != nil {
			return err
		}
		fmt.Fprintf(r.out, "sender: %s\n", arrow(sender, s))
		env.Sender = s
	}
	return r.recipient(ctx, env, addr, "")
}

// recipient prints one recipient's rewrite, route and aliases; indent
// grows with alias depth.
func (r router) recipient(ctx context.Context, env *queue.Envelope, addr, indent string) error {
	rw, err := r.eng.Rewrite(ctx, addr, policy.AddrContext{Role: "recipient", Where: "envelope"})
	if err != nil {
		return err
	}
	fmt.Fprintf(r.out, "%srecipient: %s\n", indent, arrow(addr, rw))
	route, err := r.res.Resolve(ctx, rw, env)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.out, "%s  transport: %s\n%s  nexthop: %s\n", indent, route.Transport, indent, nexthop(route, rw))
	for k, v := range route.Options {
		fmt.Fprintf(r.out, "%s  option: %s=%s\n", indent, k, v)
	}
	if route.Transport != "local" || len(indent) >= 2*maxRouteDepth {
		return nil
	}
	return r.aliases(ctx, env, rw, indent)
}

func (r router) aliases(ctx context.Context, env *queue.Envelope, addr, indent string) error {
	local, domain := resolve.Split(addr)
	targets, found, err := r.eng.ExpandAlias(ctx, strings.ToLower(local), domain)
	if err != nil {
		return err
	}
	if !found {
		fmt.Fprintf(r.out, "%s  alias: none (mailbox)\n", indent)
		return nil
	}
	fmt.Fprintf(r.out, "%s  alias: %s\n", indent, strings.Join(targets, ", "))
	for _, t := range targets {
		if strings.HasPrefix(t, "|") || strings.HasPrefix(t, "/") || strings.HasPrefix(t, ":include:") {
			continue // delivered by the local agent itself
		}
		if strings.EqualFold(t, local) || strings.EqualFold(t, addr) {
			continue // "root: root" style self-reference: the mailbox
		}
		if err := r.recipient(ctx, env, t, indent+"  "); err != nil {
			return err
		}
	}
	return nil
}

func arrow(from, to string) string {
	if from == to {
		return from
	}
	return from + " -> " + to
}

// nexthop explains a next hop the way the agents read it.
func nexthop(rt resolve.Destination, rcpt string) string {
	if rt.Transport == "smtp" && rt.Nexthop != "" && !strings.HasPrefix(rt.Nexthop, "[") {
		return rt.Nexthop + " (MX lookup)"
	}
	if rt.Nexthop == "" {
		_, d := resolve.Split(rcpt)
		return "(none; recipient domain " + d + ")"
	}
	return rt.Nexthop
}
