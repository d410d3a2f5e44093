package local

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
)

// The transport options the local agent accepts from a route.
const (
	// optMailbox is an absolute mailbox path for the recipient itself,
	// replacing Config.Mailbox: a trailing "/" means Maildir, else mbox.
	// It must lie inside Config.MailboxDirs.
	optMailbox = "mailbox"
	// optSizeLimit is the largest message, in bytes, the recipient takes.
	optSizeLimit = "size_limit"
)

// routeOptions are a request's options, checked.
type routeOptions struct {
	mailbox   string // "" keeps the pattern
	format    Format // of mailbox
	sizeLimit int64  // 0: no limit
}

// parseOptions checks a route's options. Mistakes a script author can fix
// (an unknown key, a relative path, a limit that is not a number, no
// mailbox_dirs configured) defer with 4.3.5, so mail waits for the fix;
// a path that escapes the allowed directories is refused with 5.7.1, like
// a /file alias outside allow_file_dirs: retrying would not make it safe.
func (a *Agent) parseOptions(log *slog.Logger, opts map[string]string) (routeOptions, *dsn.Status) {
	var ro routeOptions
	refuse := func(st *dsn.Status, format string, args ...any) (routeOptions, *dsn.Status) {
		log.Error("route refused", "err", fmt.Sprintf(format, args...), "status", st.Error())
		return routeOptions{}, st
	}
	if err := deliver.CheckOptions(opts, optMailbox, optSizeLimit); err != nil {
		return refuse(dsn.ConfigError, "%v", err)
	}
	if v, ok := opts[optSizeLimit]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return refuse(dsn.ConfigError, "size_limit %q is not a positive number of bytes", v)
		}
		ro.sizeLimit = n
	}
	v, ok := opts[optMailbox]
	switch {
	case !ok:
		return ro, nil
	case !filepath.IsAbs(v):
		return refuse(dsn.ConfigError, "mailbox %q is not an absolute path", v)
	case len(a.cfg.MailboxDirs) == 0:
		return refuse(dsn.ConfigError, "mailbox %q given but no mailbox directories are configured (local.mailbox_dirs)", v)
	case slices.Contains(strings.Split(v, "/"), ".."):
		return refuse(statusDenied.WithText("mailbox path not allowed"), "mailbox %q contains \"..\"", v)
	case !within(v, a.cfg.MailboxDirs):
		return refuse(statusDenied.WithText("mailbox path not allowed"), "mailbox %q is outside the mailbox directories %v", v, a.cfg.MailboxDirs)
	}
	ro.mailbox, ro.format = filepath.Clean(v), Mbox
	if strings.HasSuffix(v, "/") {
		ro.format = Maildir
	}
	return ro, nil
}

// within reports whether path lies strictly inside one of dirs. A
// Maildir is often created by its first delivery, and the mail root
// itself may not exist yet, so both sides are resolved through their
// longest existing ancestor (symlinks followed) with the rest appended:
// a link anywhere on the way cannot lead out. What the agent creates
// later (MkdirAll) holds no links.
func within(path string, dirs []string) bool {
	real, ok := resolveExisting(path)
	if !ok {
		return false
	}
	for _, d := range dirs {
		rd, ok := resolveExisting(d)
		if ok && strings.HasPrefix(real, strings.TrimSuffix(rd, "/")+"/") {
			return true
		}
	}
	return false
}

// resolveExisting returns path with the symlinks of its longest existing
// ancestor resolved.
func resolveExisting(path string) (string, bool) {
	existing, rest := filepath.Clean(path), ""
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return "", false
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", false
	}
	return filepath.Join(real, rest), true
}
