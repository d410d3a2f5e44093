package app

import (
	"fmt"
	"os"

	"github.com/moonpost/moonpost/core/deliver/local/aliases"
)

// check validates the configuration (and what it names) without starting.
func check(args []string) int {
	cfgPath, rest, err := configFlag(args)
	if err != nil || len(rest) > 0 {
		fmt.Fprintln(os.Stderr, "usage: moonpost check [-c file]")
		return exUsage
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exConfig
	}
	if code := checkScripts(cfg); code != exOK {
		return code
	}
	if _, err := loadTLS(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exConfig
	}
	if _, err := buildSigner(cfg, nil); err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exConfig
	}
	fmt.Println("moonpost: configuration OK")
	return exOK
}

// newaliases checks the aliases file, as Postfix's newaliases rebuilds
// it. moonpost reads the text file directly and reloads it when it
// changes, so there is no database to build.
func newaliases(args []string) int {
	cfgPath, _, err := configFlag(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "newaliases:", err)
		return exUsage
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "newaliases:", err)
		return exConfig
	}
	if cfg.Local.Aliases == "" {
		fmt.Fprintln(os.Stderr, "newaliases: no aliases file configured (local.aliases)")
		return exOK
	}
	a, err := aliases.LoadAliasFile(cfg.Local.Aliases)
	if err != nil {
		fmt.Fprintln(os.Stderr, "newaliases:", err)
		return exDataErr
	}
	fmt.Printf("newaliases: %s: OK (%s)\n", cfg.Local.Aliases, a.Path())
	return exOK
}
