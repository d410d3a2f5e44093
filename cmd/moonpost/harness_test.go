package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

// The end-to-end scenarios (t01_*.go ...) run the real moonpost binary,
// built once by e2e.Main, against a private spool and loopback ports. The
// helpers here are short names over the shared e2e package, which the
// examples use too.

func TestMain(m *testing.M) { e2e.Main(m) }

// daemon is one moonpost with a configuration made by newDaemon.
type daemon struct {
	*e2e.Daemon
	t    *testing.T
	dir  string // working directory, holds moonpost.toml and spool/
	cfg  string
	addr string // SMTP listener
}

func freePort(t *testing.T) string { return e2e.FreePort(t) }

// newDaemon writes a configuration (the given TOML is appended to the
// base) without starting anything.
func newDaemon(t *testing.T, extra string) *daemon {
	t.Helper()
	e := e2e.NewDaemon(t)
	d := &daemon{Daemon: e, t: t, dir: e.Dir, cfg: e.Config, addr: e.Addr}
	if err := os.WriteFile(d.cfg, []byte(baseConfig(d, extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

// baseConfig is the scenarios' common configuration with extra merged in.
func baseConfig(d *daemon, extra string) string {
	top, sections, _ := strings.Cut(extra, "\n[")
	if sections != "" {
		sections = "[" + sections
	}
	// Keys of an extra [smtpd] table join the base one, which must come
	// first: TOML forbids defining a table twice.
	smtpdKeys := ""
	if rest, ok := strings.CutPrefix(sections, "[smtpd]\n"); ok {
		smtpdKeys, sections, _ = strings.Cut(rest, "\n[")
		if sections != "" {
			sections = "[" + sections
		}
	}
	// The scenarios deliver to made-up users; the check of unknown local
	// users is t17's, which sets local_recipient_maps itself (a comment
	// naming the key keeps the default).
	if !strings.Contains(top, "local_recipient_maps") {
		top = "local_recipient_maps = []\n" + top
	}
	// Scenarios ask DNS only of servers they run on loopback: without a
	// [dns] table of their own, the resolver points at a closed loopback
	// port, so a lookup (an SPF check, an MX) fails at once, never
	// leaving the machine.
	if !strings.Contains(extra, "[dns]") {
		sections += "\n[dns]\nservers = [\"127.0.0.1:9\"]\ntimeout = \"1s\"\n"
	}
	return fmt.Sprintf(`myhostname = "mx.test"
mydestination = ["mx.test", "localhost", "local.test"]
spool_dir = %q
%s
[smtpd]
listen = [%q]
%s
%s
`, filepath.Join(d.dir, "spool"), top, d.addr, smtpdKeys, sections)
}

func (d *daemon) start()                    { d.t.Helper(); d.Start() }
func (d *daemon) stop()                     { d.Stop() }
func (d *daemon) kill()                     { d.Kill() }
func (d *daemon) signal(sig syscall.Signal) { d.Signal(sig) }
func (d *daemon) logs() string              { return d.Logs() }
func (d *daemon) waitLog(s string, n int)   { d.t.Helper(); d.WaitLog(s, n) }
func (d *daemon) pid() int                  { return d.PID() }

// run executes a moonpost subcommand (or sendmail) with this daemon's
// configuration; it returns the exit code and output.
func (d *daemon) run(stdin string, args ...string) (int, string) {
	d.t.Helper()
	return d.RunInput(stdin, args...)
}

// mailbox returns the messages delivered to a local user's Maildir.
func (d *daemon) mailbox(user string) []string {
	return d.Maildir(filepath.Join("spool", "mail", user))
}

// queued lists the paths of committed files in a queue directory.
func (d *daemon) queued(state string) []string {
	var out []string
	for _, name := range d.Queued(state) {
		out = append(out, filepath.Join(d.dir, "spool", state, name))
	}
	return out
}
