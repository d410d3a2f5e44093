package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

// runBare runs the binary in dir with no MOONPOST_CONFIG, bounded in time:
// a command that wrongly started the daemon is killed and reported.
func runBare(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2e.Binary, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("moonpost %q did not finish (did it start the daemon?):\n%s", args, out)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// The configuration flag may stand before the subcommand.
func TestT19ConfigFlagBeforeSubcommand(t *testing.T) {
	d := newDaemon(t, "")
	for _, args := range [][]string{
		{"-c", d.cfg, "route", "postmaster@mx.test"},
		{"--config=" + d.cfg, "route", "postmaster@mx.test"},
		{"route", "-c", d.cfg, "postmaster@mx.test"},
	} {
		rc, out := runBare(t, t.TempDir(), args...)
		if rc != 0 || !strings.Contains(out, "postmaster@mx.test") || !strings.Contains(out, "local") {
			t.Errorf("moonpost %q: exit %d\n%s", args, rc, out)
		}
	}
}

func TestT19HelpListsSubcommands(t *testing.T) {
	for _, flag := range []string{"--help", "-h", "help"} {
		rc, out := runBare(t, t.TempDir(), flag)
		if rc != 0 {
			t.Errorf("moonpost %s: exit %d", flag, rc)
		}
		for _, sub := range []string{"check", "route", "queue list", "repl", "status", "sendmail"} {
			if !strings.Contains(out, "moonpost "+sub) {
				t.Errorf("moonpost %s does not list %q:\n%s", flag, sub, out)
			}
		}
	}
}
