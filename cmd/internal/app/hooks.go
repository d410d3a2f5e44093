package app

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"

	"github.com/moonpost/moonpost/core/config"
	coredns "github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/smtpd"
	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/scripts"
	"github.com/moonpost/moonpost/stdlib/dns"
)

// scriptsDir says where the policy scripts are loaded from: the
// operator's folder (hooks.dir), used as it is and watched by the
// daemon, or "" for the scripts shipped in the binary, which are read in
// place (scripts.FS) and never written anywhere: a daemon start writes
// nothing but mail into the spool, so it works on a full disk. The
// embedded scripts are not watched (nothing can change them); SIGHUP
// reloads them like any folder.
func scriptsDir(cfg *config.Config) (dir string, watch bool) {
	return cfg.Hooks.Dir, cfg.Hooks.Dir != ""
}

// newResolver is the DNS resolver (and cache) of one process: the daemon
// builds one and gives it to the scripts and to the smtp client alike.
func newResolver(cfg *config.Config, log *slog.Logger) coredns.Resolver {
	return coredns.New(coredns.Config{Servers: cfg.DNS.Servers, Timeout: cfg.DNS.Timeout.D(), Logger: log})
}

// scriptConfig is the "config" module: the settings scripts need to make
// the decisions the configuration describes, keyed as in moonpost.toml.
func scriptConfig(cfg *config.Config, dir string) map[string]any {
	return map[string]any{
		"myhostname":    cfg.Hostname,
		"myorigin":      cfg.Origin,
		"mydestination": cfg.Destinations,
		"relay_domains": cfg.RelayDomains,
		"mynetworks":    cfg.MyNetworks,
		"relayhost":     cfg.RelayHost,
		"postmaster":    cfg.Postmaster,
		"spool_dir":     cfg.SpoolDir,
		"local": map[string]any{
			"aliases":             absPath(cfg.Local.Aliases),
			"recipient_delimiter": cfg.Local.RecipientDelimiter,
			"mailbox":             cfg.Local.Mailbox,
			"mailbox_dirs":        cfg.Local.MailboxDirs,
		},
		"smtpd": map[string]any{
			"message_size_limit": cfg.SMTPD.MessageSizeLimit,
			"password_file":      cfg.SMTPD.PasswordFile,
		},
		"hooks": map[string]any{"dir": dir, "tables_dirs": cfg.Hooks.TablesDir},

		"local_recipient_maps": cfg.LocalRecipientMaps, // table paths absolute
	}
}

// newEngine loads the scripts in dir for cfg, or the embedded default
// when dir is ""; their "dns" module asks res, the daemon's one resolver
// and cache.
func newEngine(cfg *config.Config, dir string, watch bool, res coredns.Resolver, log *slog.Logger) (*hooks.Engine, error) {
	tables := append([]string(nil), cfg.Hooks.TablesDir...)
	if cfg.Local.Aliases != "" {
		// The aliases file alone, not its folder (often /etc).
		tables = append(tables, absPath(cfg.Local.Aliases))
	}
	// Likewise each local_recipient_maps table, file by file.
	tables = append(tables, cfg.RecipientTables()...)
	sh, err := openShared(cfg, log)
	if err != nil {
		return nil, err
	}
	hc := hooks.Config{
		Dir: dir, Logger: log, CallTimeout: cfg.Hooks.CallTimeout.D(),
		Config: scriptConfig(cfg, dir), Resolver: dnsAdapter{res}, TableDirs: tables, Watch: watch,
		MemoryLimit: cfg.Hooks.MemoryLimit, MaxString: cfg.Hooks.MaxString,
		KVMaxKeys: cfg.Hooks.KVMaxKeys, KVMaxBytes: cfg.Hooks.KVMaxBytes,
		BreakerThreshold: cfg.Hooks.BreakerThreshold, BreakerCooldown: cfg.Hooks.BreakerCooldown.D(),
		BreakerFallback: cfg.Hooks.BreakerFallback, ErrorLogInterval: cfg.Hooks.ErrorLogInterval.D(),
		Throttle: sh.throttle, Redis: sh.redis, SQL: sh.sql,
	}
	if dir == "" {
		hc.FS = scripts.FS()
	}
	eng, err := hooks.New(hc)
	if err != nil {
		sh.Close()
	}
	return eng, err
}

// scriptPolicies are the operator decisions, all made by the Lua scripts.
// The engine's own rules (relay control, size and rate limits, header
// fixes in cleanup) stay in Go.
func scriptPolicies(cfg *config.Config, res coredns.Resolver, log *slog.Logger) (*policies, error) {
	dir, watch := scriptsDir(cfg)
	eng, err := newEngine(cfg, dir, watch, res, log)
	if err != nil {
		return nil, err
	}
	n, _ := eng.Generation()
	log.Info("policy scripts loaded", "dir", shownDir(dir), "generation", n, "watch", watch)
	auth := &scriptAuth{eng: eng}
	if cfg.SMTPD.PasswordFile != "" {
		auth.file = &smtpd.PasswordFile{Path: cfg.SMTPD.PasswordFile}
	}
	return &policies{smtp: eng, auth: auth, cleanup: eng, rewriter: eng, aliases: eng,
		router: eng, events: eng, engine: eng, close: func() { eng.Close() }}, nil
}

// scriptAuth asks the "auth" handlers first and, when none decides, the
// password file (smtpd.password_file). Without either, logins fail.
type scriptAuth struct {
	eng  *hooks.Engine
	file *smtpd.PasswordFile // nil: none configured
}

func (a *scriptAuth) Authenticate(ctx context.Context, user, pass string) (bool, error) {
	ok, decided, err := a.eng.AuthDecide(ctx, user, pass)
	if err != nil || decided || a.file == nil {
		return ok, err
	}
	return a.file.Authenticate(ctx, user, pass)
}

// dnsAdapter gives the "dns" module the daemon's resolver.
type dnsAdapter struct{ r coredns.Resolver }

func (d dnsAdapter) LookupMX(ctx context.Context, domain string) ([]dns.MX, error) {
	mxs, err := d.r.LookupMX(ctx, domain)
	if err != nil {
		return nil, d.err(err)
	}
	out := make([]dns.MX, 0, len(mxs))
	for _, m := range mxs {
		if !m.Implicit { // the module reports MX records, not RFC 5321's fallback
			out = append(out, dns.MX{Host: m.Host, Pref: m.Pref})
		}
	}
	return out, nil
}

func (d dnsAdapter) LookupHost(ctx context.Context, host string) ([]string, error) {
	addrs, err := d.r.LookupHost(ctx, host)
	if err != nil {
		return nil, d.err(err)
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = netip.Addr.String(a)
	}
	return out, nil
}

func (d dnsAdapter) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, err := d.r.LookupTXT(ctx, name)
	return txt, d.err(err)
}

func (dnsAdapter) err(err error) error {
	if coredns.IsNotFound(err) {
		return dns.ErrNotFound
	}
	return err
}

// absPath makes a configured path absolute. Paths in moonpost.toml are
// relative to the working directory; lookup tables opened by scripts
// are relative to the scripts folder, so scripts get absolute ones.
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
