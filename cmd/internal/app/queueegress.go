package app

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/control"
	"github.com/moonpost/moonpost/core/qmgr"
)

// queueShaping is "moonpost queue suspend|resume|suspensions|destinations":
// the daemon's queue manager suspends, resumes and shows the live
// shaping of destinations (docs/delivery-smtp.md).
func queueShaping(action string, args []string) int {
	fs := flag.NewFlagSet("queue "+action, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var site, domain, dur, reason *string
	if action == "suspend" || action == "resume" {
		site = fs.String("site", "", "the site (egress policy \"site\")")
		domain = fs.String("domain", "", "the next hop's domain")
	}
	if action == "suspend" {
		dur = fs.String("for", "", "how long, e.g. 1h, 30m, 2d")
		reason = fs.String("reason", "", "why, shown in the listing")
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || !shapingArgsOK(action, site, domain, dur) {
		fmt.Fprintln(os.Stderr, shapingUsage[action])
		return exUsage
	}
	req := control.Request{Op: "queue", Action: action}
	if site != nil {
		req.Site, req.Domain = *site, *domain
	}
	if dur != nil {
		req.For, req.Text = *dur, *reason
	}
	c, rc := dialDaemon(*cfgPath)
	if c == nil {
		return rc
	}
	defer c.Close()
	var out json.RawMessage
	if err := c.Call(req, &out); err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exDataErr
	}
	if *asJSON {
		os.Stdout.Write(append(out, '\n'))
		return exOK
	}
	return printShaping(action, out)
}

var shapingUsage = map[string]string{
	"suspend":      "usage: moonpost queue suspend (--site S | --domain D) --for DURATION [--reason TEXT]",
	"resume":       "usage: moonpost queue resume (--site S | --domain D)",
	"suspensions":  "usage: moonpost queue suspensions [--json]",
	"destinations": "usage: moonpost queue destinations [--json]",
}

func shapingArgsOK(action string, site, domain, dur *string) bool {
	switch action {
	case "suspend":
		return (*site == "") != (*domain == "") && *dur != ""
	case "resume":
		return (*site == "") != (*domain == "")
	}
	return true
}

func printShaping(action string, raw json.RawMessage) int {
	switch action {
	case "suspend":
		var s qmgr.Suspension
		json.Unmarshal(raw, &s)
		fmt.Printf("suspended %s until %s\n", suspendedName(s), s.Until.Local().Format(time.RFC3339))
	case "resume":
		var r admin.Resumed
		json.Unmarshal(raw, &r)
		fmt.Printf("resume: %d suspension%s ended\n", r.Resumed, plural(r.Resumed))
	case "suspensions":
		var list []qmgr.Suspension
		json.Unmarshal(raw, &list)
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SUSPENDED\tUNTIL\tBY\tREASON")
		for _, s := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", suspendedName(s), s.Until.Local().Format(time.RFC3339), s.By, s.Reason)
		}
		w.Flush()
	case "destinations":
		var list []qmgr.Shaping
		json.Unmarshal(raw, &list)
		printDestinations(list)
	}
	return exOK
}

func suspendedName(s qmgr.Suspension) string {
	switch {
	case s.Site != "":
		return "site " + s.Site
	case s.Domain != "":
		return "domain " + s.Domain
	}
	return "destination " + s.Destination
}

func printDestinations(list []qmgr.Shaping) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DESTINATION\tSITE\tQUEUED\tIN FLIGHT\tWINDOW\tLIMIT\tMSG RATE\tCONN RATE\tSTARTED\tSUSPENDED UNTIL")
	for _, d := range list {
		rate := orDash(d.MaxMessageRate)
		if d.RateCut != "" {
			rate = d.RateCut + " (cut until " + d.RateCutUntil.Local().Format(time.RFC3339) + ")"
		}
		if !d.HeldUntil.IsZero() { // the shared rate's hint
			rate += " (held until " + d.HeldUntil.Local().Format(time.RFC3339Nano) + ")"
		}
		until := "-"
		if !d.SuspendedUntil.IsZero() {
			until = d.SuspendedUntil.Local().Format(time.RFC3339)
		} else if !d.DeadUntil.IsZero() {
			until = d.DeadUntil.Local().Format(time.RFC3339) + " (unreachable)"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%d\t%s\n", d.Destination, orDash(d.Site), d.Queued, d.InFlight,
			d.Window, d.ConnectionLimit, rate, orDash(d.MaxConnectionRate), d.Started, until)
	}
	w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
