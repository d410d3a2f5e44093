package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/hooks"
)

// loadScripts loads the configured policy scripts on their own, without
// a daemon, for check, route and status. The returned function releases
// the engine (and a temporary folder for the shipped scripts).
func loadScripts(cfg *config.Config) (eng *hooks.Engine, dir string, done func(), err error) {
	dir, _, rm, err := scriptsDir(cfg, false)
	if err != nil {
		return nil, "", nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err = newEngine(cfg, dir, false, newResolver(cfg, quiet), quiet)
	if err != nil {
		rm()
		return nil, dir, nil, err
	}
	return eng, dir, func() { eng.Close(); rm() }, nil
}

// checkScripts compiles, loads and self-tests the scripts; an error is
// printed with its file and line.
func checkScripts(cfg *config.Config) int {
	_, dir, done, err := loadScripts(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "moonpost: scripts in %s: %v\n", shown(cfg, dir), err)
		return exConfig
	}
	done()
	fmt.Printf("moonpost: scripts in %s: OK\n", shown(cfg, dir))
	return exOK
}

// shown names the scripts folder for people: the shipped scripts live in
// a temporary folder while an administration command runs.
func shown(cfg *config.Config, dir string) string {
	if cfg.Hooks.Dir == "" {
		return filepath.Join(cfg.SpoolDir, "scripts") + " (the shipped default, written there by the daemon)"
	}
	return dir
}

// scriptsStatus reports the policy scripts as a fresh load sees them
// (the folder, the generation, the load error), for when no daemon runs.
func scriptsStatus(cfg *config.Config) int {
	eng, dir, done, err := loadScripts(cfg)
	fmt.Printf("scripts:     %s\n", shown(cfg, dir))
	if err != nil {
		fmt.Printf("generation:  none (the scripts do not load)\nlast error:  %v\n", err)
		return exConfig
	}
	defer done()
	n, at := eng.Generation()
	fmt.Printf("generation:  %d (loaded %s by this command)\nlast error:  none\n", n, at.Format("2006-01-02 15:04:05"))
	return exOK
}
