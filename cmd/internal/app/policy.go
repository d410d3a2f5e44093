package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/control"
	coredns "github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/resolve"
	"github.com/moonpost/moonpost/hooks"
)

// policyDiffTimeout bounds one `moonpost policy diff`.
const policyDiffTimeout = 2 * time.Minute

// policyCmd is "moonpost policy diff [-c file] DIR [--sample FILE]":
// load the scripts in DIR as a candidate generation (selftests
// included) and print which recipients it would decide differently from
// the live policy — over the daemon's queue, or over the envelopes in
// FILE ("SENDER RCPT..." a line). Nothing is queued or changed.
func policyCmd(args []string) int {
	cfgPath, rest, err := configFlag(args)
	dir, sample, ok := policyArgs(rest)
	if err != nil || !ok {
		fmt.Fprintln(os.Stderr, "usage: moonpost policy diff [-c file] DIR [--sample FILE]")
		return exUsage
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exConfig
	}
	var lines []string
	if sample != "" {
		b, err := os.ReadFile(sample)
		if err != nil {
			fmt.Fprintln(os.Stderr, "moonpost:", err)
			return exUsage
		}
		lines = strings.Split(string(b), "\n")
	}
	if abs := absPath(dir); abs != "" {
		dir = abs // the daemon's working directory is not ours
	}
	if c, err := control.Dial(control.SocketPath(cfg.SpoolDir)); err == nil {
		defer c.Close()
		return printResponse(c.Do(control.Request{Op: "policy_diff", Dir: dir, Samples: lines}))
	}
	if sample == "" {
		fmt.Fprintln(os.Stderr, "moonpost: the daemon is not running: give the envelopes with --sample FILE")
		return exTempFail
	}
	return policyDiffStandalone(cfg, dir, lines)
}

func policyArgs(args []string) (dir, sample string, ok bool) {
	if len(args) == 0 || args[0] != "diff" {
		return "", "", false
	}
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--sample" && i+1 < len(args):
			sample = args[i+1]
			i++
		case strings.HasPrefix(a, "--sample="):
			sample = strings.TrimPrefix(a, "--sample=")
		case dir == "" && !strings.HasPrefix(a, "-"):
			dir = a
		default:
			return "", "", false
		}
	}
	return dir, sample, dir != ""
}

func printResponse(resp *control.Response, err error) int {
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exTempFail
	}
	fmt.Print(resp.Output)
	if resp.Error != "" {
		fmt.Fprintln(os.Stderr, "moonpost:", resp.Error)
		return exTempFail
	}
	return exOK
}

func policyDiffStandalone(cfg *config.Config, dir string, lines []string) int {
	eng, live, done, err := loadScripts(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "moonpost: scripts in %s: %v\n", shownDir(live), err)
		return exConfig
	}
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), policyDiffTimeout)
	defer cancel()
	fmt.Println("daemon: not running; live scripts loaded here")
	x := newExplainer(cfg, simCleanup(cfg, eng), routeResolver(cfg, eng), eng, newResolver(cfg, slog.New(slog.DiscardHandler)))
	if err := policyDiff(ctx, os.Stdout, cfg, x, nil, nil, dir, lines); err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exConfig
	}
	return exOK
}

// simCleanup is a cleanup for simulations only: no queue behind it.
func simCleanup(cfg *config.Config, eng *hooks.Engine) *cleanup.Cleanup {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &cleanup.Cleanup{Hostname: cfg.Hostname, HeaderLimit: cfg.SMTPD.HeaderSizeLimit,
		Policy: eng, Rewriter: rewriter(cfg, eng), Log: quiet}
}

// policyDiff loads the candidate in dir and compares it with live over
// the sample lines, or over the queue (adm) when there are none.
func policyDiff(ctx context.Context, w io.Writer, cfg *config.Config, live *resolve.Explainer, res coredns.Resolver, adm *admin.Admin, dir string, lines []string) error {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if res == nil {
		res = newResolver(cfg, quiet)
	}
	cand, err := newEngine(cfg, dir, false, res, quiet)
	if err != nil {
		return fmt.Errorf("candidate scripts in %s: %w", dir, err)
	}
	defer cand.Close()
	samples, err := policySamples(ctx, adm, lines)
	if err != nil {
		return err
	}
	x := newExplainer(cfg, simCleanup(cfg, cand), routeResolver(cfg, cand), cand, newResolver(cfg, slog.New(slog.DiscardHandler)))
	checked, changes := resolve.Diff(ctx, live, x, samples)
	resolve.PrintDiff(w, len(samples), checked, changes)
	return nil
}

// policySamples are the sample lines, or the pending recipients of every
// queued message.
func policySamples(ctx context.Context, adm *admin.Admin, lines []string) ([]resolve.Sample, error) {
	if lines != nil || adm == nil {
		return resolve.ParseSamples(strings.NewReader(strings.Join(lines, "\n")))
	}
	entries, err := adm.List(ctx, admin.Filter{})
	if err != nil {
		return nil, err
	}
	var out []resolve.Sample
	for _, e := range entries {
		s := resolve.Sample{ID: string(e.ID), Sender: e.Sender, Size: e.Size}
		for _, r := range e.Recipients {
			if r.State == "pending" {
				s.Rcpts = append(s.Rcpts, r.Addr)
			}
		}
		if len(s.Rcpts) == 0 {
			continue
		}
		// The header as queued, for transport hooks that read it; a
		// message delivered meanwhile is compared without one.
		if m, err := adm.Get(e.ID, 0); err == nil {
			for _, h := range m.Headers {
				s.Header = append(s.Header, h.Name+": "+h.Value)
			}
		}
		out = append(out, s)
	}
	return out, nil
}
