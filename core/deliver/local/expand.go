package local

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moonpost/moonpost/core/deliver/internal/addr"
	"github.com/moonpost/moonpost/core/deliver/local/aliases"
	"github.com/moonpost/moonpost/core/dsn"
)

// maxInclude bounds an :include: file.
const maxInclude = 1 << 20

type destKind int

const (
	toMailbox destKind = iota
	toFile
	toCommand
)

// dest is one place a recipient's copy goes.
type dest struct {
	kind   destKind
	value  string // mailbox or file path, or command text
	format Format // for toMailbox and toFile
	// owner is the local address the destination delivers for: it names
	// the Delivered-To header and the command's environment.
	owner addr.Parts
}

func (d dest) key() string { return fmt.Sprintf("%d:%s", d.kind, d.value) }

// plan is a recipient after alias expansion.
type plan struct {
	dests    []dest
	forwards map[string][]string // owner address → remote targets
	owners   []string            // forwards' keys in expansion order
}

// expander walks one recipient's alias tree, bounded in depth and size.
type expander struct {
	a    *Agent
	ctx  context.Context
	log  *slog.Logger
	hdr  map[string]bool // Delivered-To addresses already in the message
	seen map[string]bool // destinations and forwards already planned
	n    int             // targets visited, against MaxTargets
	plan plan
	// rcpt and ro: the route's mailbox option replaces the pattern for
	// the recipient's own mailbox only; other local addresses its alias
	// names keep theirs (the route was chosen for rcpt, not for them).
	rcpt string
	ro   routeOptions
}

func (a *Agent) expand(ctx context.Context, log *slog.Logger, rcpt string, ro routeOptions, hdr map[string]bool) (*plan, *dsn.Status) {
	e := &expander{a: a, ctx: ctx, log: log, hdr: hdr, seen: map[string]bool{},
		plan: plan{forwards: map[string][]string{}}, rcpt: rcpt, ro: ro}
	if st := e.address(rcpt, nil); st != nil {
		return nil, st
	}
	return &e.plan, nil
}

// address expands a local address: its alias if it has one, else its
// mailbox. chain holds the addresses and include files above it.
func (e *expander) address(address string, chain []string) *dsn.Status {
	p := addr.Split(address, e.a.cfg.RecipientDelimiter)
	lower := strings.ToLower(address)
	switch {
	case e.hdr[lower]:
		return statusLoop.WithText("mail forwarding loop for " + address)
	case slices.Contains(chain, lower):
		return statusLoop.WithText("alias expansion loop for " + address)
	}
	targets, key, st := e.lookup(p)
	if st != nil || targets == nil {
		if st == nil {
			st = e.mailbox(p)
		}
		return st
	}
	chain = append(slices.Clip(chain), lower)
	for _, t := range targets {
		// A target naming the alias itself means its own mailbox
		// (Postfix "root: root, admin").
		self := strings.ToLower(qualify(t, p.Domain))
		if self == lower || self == key {
			if st := e.mailbox(p); st != nil {
				return st
			}
			continue
		}
		if st := e.target(t, p, chain, false); st != nil {
			return st
		}
	}
	return nil
}

// lookup finds p's alias: the whole local part first, then without the
// extension. It returns the matched name as an address, for the
// self-reference test, and nil targets when there is no alias.
func (e *expander) lookup(p addr.Parts) ([]string, string, *dsn.Status) {
	al := e.a.cfg.Aliases
	if al == nil {
		return nil, "", nil
	}
	names := []string{strings.ToLower(p.Local)}
	if p.Extension != "" {
		names = append(names, strings.ToLower(p.User))
	}
	for _, name := range names {
		targets, found, err := al.ExpandAlias(e.ctx, name, strings.ToLower(p.Domain))
		if err != nil {
			e.log.Error("alias lookup failed", "local", name, "err", err)
			return nil, "", statusAliasTemp
		}
		if found {
			return targets, name + "@" + strings.ToLower(p.Domain), nil
		}
	}
	return nil, "", nil
}

// target plans one alias target on behalf of owner.
func (e *expander) target(t string, owner addr.Parts, chain []string, fromInclude bool) *dsn.Status {
	e.n++
	switch {
	case e.n > e.a.cfg.MaxTargets:
		return statusTooLarge
	case len(chain) > e.a.cfg.MaxDepth:
		return statusLoop.WithText("alias expansion too deep for " + owner.Addr)
	case strings.HasPrefix(t, "|"):
		if !allowed(e.a.cfg.Commands, fromInclude) {
			return statusDenied.WithText("mail to command is not allowed for " + owner.Addr)
		}
		e.add(dest{kind: toCommand, value: strings.TrimSpace(t[1:]), owner: owner})
	case strings.HasPrefix(t, ":include:"):
		return e.include(strings.TrimSpace(t[len(":include:"):]), owner, chain)
	case strings.HasPrefix(t, "/"):
		if !allowed(e.a.cfg.Files, fromInclude) || !under(t, e.a.cfg.AllowFileDirs) {
			return statusDenied.WithText("mail to file is not allowed for " + owner.Addr)
		}
		f := Mbox
		if strings.HasSuffix(t, "/") {
			f = Maildir
		}
		e.add(dest{kind: toFile, value: filepath.Clean(t), format: f, owner: owner})
	default:
		full := qualify(t, owner.Domain)
		if e.a.isLocal(addr.Split(full, "").Domain, owner.Domain) {
			return e.address(full, chain)
		}
		e.forward(owner.Addr, full)
	}
	return nil
}

// include reads more targets from an :include: file. Commands and files
// found there are subject to the Permit for includes.
func (e *expander) include(path string, owner addr.Parts, chain []string) *dsn.Status {
	if len(e.a.cfg.IncludeDirs) == 0 || !under(path, e.a.cfg.IncludeDirs) {
		return statusDenied.WithText("include file is not allowed for " + owner.Addr)
	}
	key := ":include:" + filepath.Clean(path)
	if slices.Contains(chain, key) {
		return statusLoop.WithText("include loop for " + owner.Addr)
	}
	targets, err := readInclude(path)
	if err != nil {
		e.log.Error("include file", "path", path, "err", err)
		return statusIncludeErr
	}
	chain = append(slices.Clip(chain), key)
	for _, t := range targets {
		if st := e.target(t, owner, chain, true); st != nil {
			return st
		}
	}
	return nil
}

// readInclude parses an :include: file: targets separated by commas or
// new lines, "#" comment lines.
func readInclude(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxInclude))
	var out []string
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		ts, err := aliases.ParseTargets(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, ts...)
	}
	return out, sc.Err()
}

// mailbox plans delivery to p's own mailbox.
func (e *expander) mailbox(p addr.Parts) *dsn.Status {
	if !validLocal(p.Local) || (p.Domain != "" && !validLocal(p.Domain)) {
		return statusBadAddress
	}
	path, f := e.a.mailbox(strings.ToLower(p.Local), strings.ToLower(p.User),
		strings.ToLower(p.Extension), strings.ToLower(p.Domain))
	if e.ro.mailbox != "" && strings.EqualFold(p.Addr, e.rcpt) {
		path, f = e.ro.mailbox, e.ro.format
	}
	e.add(dest{kind: toMailbox, value: path, format: f, owner: p})
	return nil
}

func (e *expander) add(d dest) {
	if !e.seen[d.key()] {
		e.seen[d.key()] = true
		e.plan.dests = append(e.plan.dests, d)
	}
}

func (e *expander) forward(owner, target string) {
	key := "fwd:" + strings.ToLower(target)
	if e.seen[key] {
		return
	}
	e.seen[key] = true
	if _, ok := e.plan.forwards[owner]; !ok {
		e.plan.owners = append(e.plan.owners, owner)
	}
	e.plan.forwards[owner] = append(e.plan.forwards[owner], target)
}

// qualify gives a bare local part the domain of the alias it came from.
func qualify(t, domain string) string {
	if strings.Contains(t, "@") || domain == "" {
		return t
	}
	return t + "@" + domain
}

func allowed(p Permit, fromInclude bool) bool {
	return p == PermitAliasesAndIncludes || (p == PermitAliases && !fromInclude)
}
