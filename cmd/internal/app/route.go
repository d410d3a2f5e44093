package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/control"
	coredns "github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/resolve"
	"github.com/moonpost/moonpost/hooks"
)

// routeCmd is "moonpost route [-c file] ADDRESS [--sender S] [--header
// 'Name: value']...": what the daemon does with mail to ADDRESS, step by
// step with the script line that decided each (resolve.Explainer). With
// the daemon running it asks the live generation over the control
// socket; otherwise it loads the scripts and runs the same code here.
func routeCmd(args []string) int {
	cfgPath, rest, err := configFlag(args)
	q, ok := routeArgs(rest)
	if err != nil || !ok {
		fmt.Fprintln(os.Stderr, "usage: moonpost route [-c file] ADDRESS [--sender S] [--header 'Name: value']...")
		return exUsage
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exConfig
	}
	if c, err := control.Dial(control.SocketPath(cfg.SpoolDir)); err == nil {
		defer c.Close()
		return routeRemote(c, q)
	}
	return routeStandalone(cfg, q)
}

// routeQuery is what to route.
type routeQuery struct {
	addr, sender string
	header       []string
}

// routeArgs takes ADDRESS, --sender S and --header H in any order.
func routeArgs(args []string) (q routeQuery, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, inline := strings.Cut(a, "=")
		switch {
		case name == "--sender" || name == "-sender" || name == "-f" || name == "--header":
			if !inline {
				if i+1 >= len(args) {
					return q, false
				}
				val = args[i+1]
				i++
			}
			if name == "--header" {
				if !strings.Contains(val, ":") || strings.ContainsAny(val, "\r\n") {
					return q, false
				}
				q.header = append(q.header, val)
			} else {
				q.sender = val
			}
		case q.addr == "" && !strings.HasPrefix(a, "-"):
			q.addr = a
		default:
			return q, false
		}
	}
	return q, q.addr != ""
}

func routeRemote(c *control.Client, q routeQuery) int {
	return printResponse(c.Do(control.Request{Op: "route", Addr: q.addr, Sender: q.sender, Header: q.header}))
}

func routeStandalone(cfg *config.Config, q routeQuery) int {
	eng, dir, done, err := loadScripts(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "moonpost: scripts in %s: %v\n", shownDir(dir), err)
		return exConfig
	}
	defer done()
	x := newExplainer(cfg, simCleanup(cfg, eng), routeResolver(cfg, eng), eng, newResolver(cfg, slog.New(slog.DiscardHandler)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println("daemon: not running; scripts loaded here")
	if err := explainRoute(ctx, os.Stdout, eng, x, q.addr, q.sender, q.header); err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exTempFail
	}
	return exOK
}

// newExplainer is the route simulation over the daemon's own parts.
// dnsRes answers the egress step's MX lookups: the daemon's own
// resolver, or one made for a standalone run.
func newExplainer(cfg *config.Config, clean *cleanup.Cleanup, res *resolve.Resolver, eng *hooks.Engine, dnsRes coredns.Resolver) *resolve.Explainer {
	x := &resolve.Explainer{Cleanup: clean, Resolver: res, RecipientDelimiter: cfg.Local.RecipientDelimiter}
	if eng != nil {
		x.Aliases = eng
		x.Egress = explainEgress(&policies{engine: eng}, dnsRes)
	}
	return x
}

// explainRoute prints the generation, then the steps.
func explainRoute(ctx context.Context, w io.Writer, eng *hooks.Engine, x *resolve.Explainer, addr, sender string, header []string) error {
	if eng != nil {
		n, _ := eng.Generation()
		fmt.Fprintf(w, "generation: %d\n", n)
	}
	return x.Explain(ctx, w, addr, sender, header)
}

// routeResolver resolves as the daemon does, for the agents cfg defines.
func routeResolver(cfg *config.Config, eng *hooks.Engine) *resolve.Resolver {
	transports := map[string]bool{"smtp": true, "lmtp": true, "local": true, "pipe": true, "discard": true, "error": true}
	for name := range cfg.Pipes {
		transports[name] = true
	}
	return newRecipientResolver(cfg, &policies{router: eng, engine: eng}, transports)
}
