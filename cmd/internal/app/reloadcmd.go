package app

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/moonpost/moonpost/core/control"
)

// reloadCmd is "moonpost reload [-c file] [--json]": the running daemon
// re-reads moonpost.toml and its scripts, and the answer says what took
// effect and what waits for a restart. Exit 0 when the reload was
// applied, 78 when the daemon refused the configuration or the scripts
// (it keeps the running ones), 75 when no daemon runs.
func reloadCmd(args []string) int {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: moonpost reload [-c file] [--json]")
		return exUsage
	}
	c, rc := dialDaemon(*cfgPath)
	if c == nil {
		if rc == exConfig {
			fmt.Fprintln(os.Stderr, "moonpost: not reloaded; a running daemon keeps its configuration")
		}
		return rc
	}
	defer c.Close()
	r, err := c.Do(control.Request{Op: "reload"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exTempFail
	}
	if r.Error != "" {
		fmt.Fprintln(os.Stderr, "moonpost: reload:", r.Error)
		return exConfig
	}
	var res control.ReloadResult
	if err := json.Unmarshal(r.Result, &res); err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exSoftware
	}
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(res)
		return exOK
	}
	printReload(&res)
	return exOK
}

func printReload(res *control.ReloadResult) {
	from := res.Config
	if from == "" {
		from = "the embedded default configuration"
	}
	fmt.Printf("reloaded %s", from)
	if res.Generation > 0 {
		fmt.Printf("; scripts generation %d", res.Generation)
	}
	fmt.Println()
	fmt.Printf("applied: %s\n", listOrNone(res.Applied))
	if len(res.Restart) > 0 {
		fmt.Printf("needs a restart: %s\n", strings.Join(res.Restart, ", "))
	}
}

func listOrNone(keys []string) string {
	if len(keys) == 0 {
		return "no changed settings"
	}
	return strings.Join(keys, ", ")
}
