package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/control"
)

// status is "moonpost status [--json]": the running daemon's uptime,
// listeners, scripts and queue. Exit 75 with a message when it is not
// running.
func status(args []string) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := fs.Parse(args); err != nil {
		return exUsage
	}
	c, rc := dialDaemon(*cfgPath)
	if c == nil {
		// Not running: still say whether the scripts would load.
		if cfg, err := loadConfig(*cfgPath); err == nil && rc == exTempFail {
			scriptsStatus(cfg)
		}
		return rc
	}
	defer c.Close()
	var st control.Status
	if err := c.Call(control.Request{Op: "status"}, &st); err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exTempFail
	}
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(st)
		return exOK
	}
	printStatus(&st)
	return exOK
}

func printStatus(st *control.Status) {
	fmt.Printf("moonpost is running (pid %d), up %s since %s\n", st.PID, st.Uptime, st.Started.Format(time.RFC1123Z))
	fmt.Printf("listeners: %s\n", strings.Join(st.Listeners, ", "))
	switch {
	case !st.Scripts:
		fmt.Println("scripts: none loaded (built-in policy)")
	case st.LastError != "":
		fmt.Printf("scripts: generation %d, loaded %s; last reload failed: %s\n", st.Generation, st.LoadedAt.Format(time.RFC1123Z), st.LastError)
	default:
		fmt.Printf("scripts: generation %d, loaded %s\n", st.Generation, st.LoadedAt.Format(time.RFC1123Z))
	}
	var tripped []string
	for ev, state := range st.Breakers {
		if state != "closed" {
			tripped = append(tripped, ev+" "+state)
		}
	}
	if len(tripped) > 0 {
		sort.Strings(tripped)
		fmt.Printf("circuit breakers: %s\n", strings.Join(tripped, ", "))
	}
	var parts []string
	for _, q := range admin.ListStates {
		c := st.Queue[string(q)]
		parts = append(parts, fmt.Sprintf("%s %d (%d KB)", q, c.Messages, (c.Bytes+1023)/1024))
	}
	if c := st.Queue["corrupt"]; c.Messages > 0 {
		parts = append(parts, fmt.Sprintf("corrupt %d", c.Messages))
	}
	fmt.Printf("queue: %s\n", strings.Join(parts, ", "))
	if st.Counters != nil {
		fmt.Printf("since start: delivered %d, deferred %d, bounced %d, expired %d\n",
			st.Counters["delivered"], st.Counters["deferred"], st.Counters["bounced"], st.Counters["expired"])
	}
}

// queueStats is "moonpost queue stats [--json]", like qshape: it reads
// the spool directly, so it works with the daemon down too.
func queueStats(args []string) int {
	fs := flag.NewFlagSet("queue stats", flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	top := fs.Int("top", 10, "deferred destinations to show")
	if err := fs.Parse(args); err != nil {
		return exUsage
	}
	store, rc := openSpool(*cfgPath)
	if store == nil {
		return rc
	}
	defer store.Close()
	s, err := (&admin.Admin{Store: store}).Stats(context.Background(), *top)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exTempFail
	}
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(s)
		return exOK
	}
	for _, q := range admin.GetStates {
		c := s.States[q]
		fmt.Printf("%-9s %6d messages %8d KB\n", q, c.Messages, (c.Bytes+1023)/1024)
	}
	if s.Oldest != nil {
		fmt.Printf("oldest: %s in %s, %s old\n", s.Oldest.ID, s.Oldest.State, s.Oldest.Age)
	}
	if len(s.TopDeferred) > 0 {
		fmt.Printf("\n%-40s %8s %10s\n", "deferred to", "messages", "recipients")
		for _, d := range s.TopDeferred {
			fmt.Printf("%-40s %8d %10d\n", d.Domain, d.Messages, d.Recipients)
		}
	}
	return exOK
}
