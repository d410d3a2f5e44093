package app

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/control"
	"github.com/moonpost/moonpost/core/queue"
)

// filterFlag collects repeated --filter key=value pairs.
type filterFlag struct {
	spec admin.Spec
	set  bool
}

func (f *filterFlag) String() string { return "" }

func (f *filterFlag) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("want key=value, got %q", kv)
	}
	f.set = true
	return f.spec.Set(strings.TrimSpace(k), strings.TrimSpace(v))
}

// queueAction is "moonpost queue hold|release|requeue|delete|bounce
// [options] ID... | - | --filter key=value ...": the daemon applies it
// through its queue manager.
func queueAction(action string, args []string) int {
	fs := flag.NewFlagSet("queue "+action, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file")
	var filter filterFlag
	fs.Var(&filter, "filter", "select by `key=value` (state, sender, rcpt_domain, older_than, reason_match, class, tenant, limit); repeatable")
	dry := fs.Bool("dry-run", false, "only show what would be touched")
	text := fs.String("reason", "", "hold reason, or the text of a bounce")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return exUsage
	}
	ids, err := idArgs(fs.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exDataErr
	}
	if len(ids) == 0 && !filter.set {
		fmt.Fprintf(os.Stderr, "usage: moonpost queue %s [--dry-run] [--reason TEXT] ID... | - | --filter key=value...\n", action)
		return exUsage
	}
	req := control.Request{Op: "queue", Action: action, IDs: ids, Text: *text, DryRun: *dry}
	if filter.set {
		req.Filter = &filter.spec
	}
	return callAndReport(*cfgPath, req, *asJSON)
}

// idArgs reads IDs from the arguments, or from stdin for "-" (one per
// line, mailq's * and ! marks allowed). Each must be a valid ID.
func idArgs(args []string) ([]string, error) {
	var ids []string
	for _, a := range args {
		if a != "-" {
			ids = append(ids, a)
			continue
		}
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) > 0 {
				ids = append(ids, f[0])
			}
		}
	}
	for i, id := range ids {
		ids[i] = strings.TrimRight(id, "*!")
		if !queue.Valid(ids[i]) {
			return nil, fmt.Errorf("%q is not a queue ID", id)
		}
	}
	return ids, nil
}

// queueFlush is "moonpost queue flush [--dry-run] [DOMAIN]".
func queueFlush(args []string) int {
	fs := flag.NewFlagSet("queue flush", flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file")
	dry := fs.Bool("dry-run", false, "only show what would be retried")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() > 1 {
		fmt.Fprintln(os.Stderr, "usage: moonpost queue flush [--dry-run] [DOMAIN]")
		return exUsage
	}
	return callAndReport(*cfgPath, control.Request{Op: "queue", Action: "flush", Text: fs.Arg(0), DryRun: *dry}, *asJSON)
}

func callAndReport(cfgPath string, req control.Request, asJSON bool) int {
	c, rc := dialDaemon(cfgPath)
	if c == nil {
		return rc
	}
	defer c.Close()
	var r admin.Result
	if err := c.Call(req, &r); err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exDataErr
	}
	if asJSON {
		json.NewEncoder(os.Stdout).Encode(r)
	} else {
		printResult(&r)
	}
	if len(r.Errors) > 0 {
		return exTempFail
	}
	return exOK
}

func printResult(r *admin.Result) {
	if r.DryRun {
		for _, id := range r.IDs {
			fmt.Println(id)
		}
		fmt.Printf("%s (dry run): would touch %d message%s\n", r.Op, r.Count, plural(r.Count))
		return
	}
	fmt.Printf("%s: %d selected, %d done, %d when their delivery returns, %d unchanged, %d gone meanwhile\n",
		r.Op, r.Count, r.Applied, r.Marked, r.Unchanged, r.Gone)
	for _, e := range r.Errors {
		fmt.Fprintln(os.Stderr, "moonpost:", e)
	}
}
