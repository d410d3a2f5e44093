package local

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/policy"
)

// Format is a mailbox format.
type Format int

const (
	Maildir Format = iota // one file per message in new/
	Mbox                  // all messages appended to one file
)

// Permit says which alias sources may name a |command or /file target.
type Permit int

const (
	// PermitAliases allows targets written in the alias source itself
	// (the admin's aliases file or policy), not in :include: files.
	PermitAliases Permit = iota
	// PermitAliasesAndIncludes also allows them in :include: files.
	PermitAliasesAndIncludes
	// PermitNone refuses them everywhere.
	PermitNone
)

// Forwarder resubmits a message to addresses an alias expanded to. The
// engine implements it by handing a new message to cleanup with the
// same sender and content, adding "Delivered-To: rcpt.Addr" so a loop
// back here is caught. rcpt.Addr is the local address whose alias gave
// the targets. Forward must return only once the new message is safely
// queued; an error that is not a *dsn.Status defers the recipient.
type Forwarder interface {
	Forward(ctx context.Context, req *deliver.Request, rcpt deliver.Recipient, targets []string) error
}

// Config configures the local agent. The zero value delivers to Maildirs
// under /var/mail/{user}/ with no aliases.
type Config struct {
	Aliases   policy.Aliases // nil: no aliases
	Forwarder Forwarder      // nil: forwarding defers
	// Mailbox is the mailbox location pattern with {user} (local part
	// without extension, lower case), {local} (whole local part, lower
	// case), {extension} and {domain}. A trailing "/" means Maildir,
	// otherwise mbox. "" → "/var/mail/{user}/".
	Mailbox string
	// MailboxPath, when set, replaces Mailbox.
	MailboxPath func(local, domain string) (path string, format Format)
	// LocalDomains are domains whose addresses, met in an alias, are
	// expanded here rather than forwarded. The recipient's own domain
	// always counts.
	LocalDomains []string
	// RecipientDelimiter separates user and extension ("" → "+").
	RecipientDelimiter string
	// MailboxDirs are the directories a route's "mailbox" option may name
	// a mailbox under (a hosting provider's mail root); empty refuses the
	// option. The pattern above is the admin's and is not confined.
	MailboxDirs []string
	// AllowFileDirs are the directories /file targets may write under.
	AllowFileDirs []string
	// IncludeDirs are the directories :include: files may be read from;
	// empty refuses :include:.
	IncludeDirs []string
	Commands    Permit // where |command targets are honoured
	Files       Permit // where /file targets are honoured
	// CommandTimeout bounds a |command (0 → 1000s, Postfix's
	// command_time_limit); CommandDir is its working directory ("" → "/").
	CommandTimeout time.Duration
	CommandDir     string
	MaxDepth       int // alias nesting limit (0 → 20)
	MaxTargets     int // destinations one recipient may expand to (0 → 1000)
	// LockWait bounds waiting for an mbox lock (0 → 60s); StaleLock is
	// the age after which a dot-lock is broken (0 → 500s, as Postfix).
	LockWait, StaleLock time.Duration
	Hostname            string       // for Maildir file names ("" → os.Hostname)
	Logger              *slog.Logger // nil → slog.Default()
}

// withDefaults fills in the zero fields.
func (c Config) withDefaults() Config {
	set := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	set(&c.Mailbox, "/var/mail/{user}/")
	set(&c.RecipientDelimiter, "+")
	set(&c.CommandDir, "/")
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
		set(&c.Hostname, "localhost")
	}
	setDur := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	setDur(&c.CommandTimeout, 1000*time.Second)
	setDur(&c.LockWait, 60*time.Second)
	setDur(&c.StaleLock, 500*time.Second)
	if c.MaxDepth <= 0 {
		c.MaxDepth = 20
	}
	if c.MaxTargets <= 0 {
		c.MaxTargets = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate rejects configurations that would be unsafe at delivery time.
func (c Config) validate() error {
	if c.MailboxPath == nil && !strings.HasPrefix(c.Mailbox, "/") {
		return fmt.Errorf("local: mailbox pattern %q is not an absolute path", c.Mailbox)
	}
	if c.MailboxPath == nil && !strings.Contains(c.Mailbox, "{user}") && !strings.Contains(c.Mailbox, "{local}") {
		return fmt.Errorf("local: mailbox pattern %q names no {user} or {local}", c.Mailbox)
	}
	for _, d := range slices.Concat(c.AllowFileDirs, c.IncludeDirs, c.MailboxDirs) {
		if !filepath.IsAbs(d) {
			return fmt.Errorf("local: directory %q is not absolute", d)
		}
	}
	return nil
}

// validLocal reports whether a local part may go into a mailbox path.
func validLocal(s string) bool {
	return s != "" && s != "." && !strings.Contains(s, "..") && !strings.ContainsAny(s, "/\x00")
}

// mailbox returns where user's mail goes.
func (a *Agent) mailbox(local, user, ext, domain string) (string, Format) {
	if a.cfg.MailboxPath != nil {
		return a.cfg.MailboxPath(local, domain)
	}
	path := strings.NewReplacer("{user}", user, "{local}", local, "{extension}", ext,
		"{domain}", domain).Replace(a.cfg.Mailbox)
	if strings.HasSuffix(path, "/") {
		return path, Maildir
	}
	return path, Mbox
}

// under reports whether path lies inside one of dirs, after resolving
// symlinks in the directory part so a link cannot lead outside.
func under(path string, dirs []string) bool {
	if !filepath.IsAbs(path) {
		return false
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(filepath.Clean(path)))
	if err != nil {
		return false
	}
	for _, d := range dirs {
		rd, err := filepath.EvalSymlinks(d)
		if err != nil {
			continue
		}
		if dir == rd || strings.HasPrefix(dir, rd+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
