package app

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/scripts"
)

// loadScripts loads the configured policy scripts on their own, without
// a daemon, for check, route and status. dir is "" for the embedded
// default. The returned function releases the engine.
func loadScripts(cfg *config.Config) (eng *hooks.Engine, dir string, done func(), err error) {
	dir, _ = scriptsDir(cfg)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err = newEngine(cfg, dir, false, newResolver(cfg, quiet), quiet)
	if err != nil {
		return nil, dir, nil, err
	}
	return eng, dir, func() { eng.Close() }, nil
}

// checkScripts compiles, loads and self-tests the scripts; an error is
// printed with its file and line.
func checkScripts(cfg *config.Config) int {
	eng, dir, done, err := loadScripts(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "moonpost: scripts in %s: %v\n", shownDir(dir), err)
		return exConfig
	}
	loaded := eng.Warnings()
	done()
	warnDeprecated(dir)
	for _, w := range loaded {
		fmt.Fprintf(os.Stderr, "moonpost: warning: %s\n", w)
	}
	fmt.Printf("moonpost: scripts in %s: OK\n", shownDir(dir))
	return exOK
}

// embeddedName is how logs and commands name the default policy built
// into the binary.
const embeddedName = "the embedded default (moonpost scripts export DIR writes it out)"

// shownDir names the scripts folder for people.
func shownDir(dir string) string {
	if dir == "" {
		return embeddedName
	}
	return dir
}

// scriptsStatus reports the policy scripts as a fresh load sees them
// (the folder, the generation, the load error), for when no daemon runs.
func scriptsStatus(cfg *config.Config) int {
	eng, dir, done, err := loadScripts(cfg)
	fmt.Printf("scripts:     %s\n", shownDir(dir))
	if err != nil {
		fmt.Printf("generation:  none (the scripts do not load)\nlast error:  %v\n", err)
		return exConfig
	}
	defer done()
	n, at := eng.Generation()
	fmt.Printf("generation:  %d (loaded %s by this command)\nlast error:  none\n", n, at.Format("2006-01-02 15:04:05"))
	return exOK
}

// scriptsCmd is "moonpost scripts export [--force] DIR": it writes the
// default policy built into the binary into DIR, for an operator who
// wants to edit it; hooks.dir = DIR then makes the daemon load (and
// watch) that folder instead.
func scriptsCmd(args []string) int {
	fs := flag.NewFlagSet("moonpost scripts export", flag.ContinueOnError)
	force := fs.Bool("force", false, "overwrite scripts already in DIR")
	if len(args) == 0 || args[0] != "export" || fs.Parse(args[1:]) != nil || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: moonpost scripts export [--force] DIR")
		return exUsage
	}
	written, err := scripts.Export(fs.Arg(0), *force)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exIOErr
	}
	for _, p := range written {
		fmt.Println(p)
	}
	fmt.Fprintf(os.Stderr, "moonpost: set hooks.dir = %q in moonpost.toml to run these scripts\n", fs.Arg(0))
	return exOK
}

// warnDeprecated prints a warning, with file and line, for each use of
// an old name of the Lua API; the scripts still work.
func warnDeprecated(dir string) {
	fsys := scripts.FS()
	if dir != "" {
		fsys = os.DirFS(dir)
	}
	warnings, err := hooks.Deprecated(fsys)
	if err != nil {
		fmt.Fprintf(os.Stderr, "moonpost: scripts in %s: %v\n", shownDir(dir), err)
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "moonpost: warning: %s\n", w)
	}
}
