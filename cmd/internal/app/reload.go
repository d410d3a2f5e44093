package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/control"
	"github.com/moonpost/moonpost/core/httpapi"
	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
)

// A reload (SIGHUP, or "moonpost reload" over the control socket)
// re-reads moonpost.toml and the policy scripts. It builds and checks
// everything first and swaps only then: a file that does not load, or
// scripts that fail, leave the running configuration and generation in
// effect and come back as the error. What can change live is applied
// (liveKey); every other changed key is named as needing a restart and
// keeps its running value until then.

// configSource is where the daemon's configuration came from, so a
// reload reads the same file with the same command-line overrides.
type configSource struct {
	path     string               // -c, or "" for the usual search (loadConfig)
	override func(*config.Config) // -spool and the like; may be nil
	level    *slog.LevelVar       // the loggers' level, log_level
}

// liveTop are the keys outside [queue] a reload applies: the log level
// and the HTTP listener (closed and opened again on the new addresses).
var liveTop = map[string]bool{"log_level": true, "http.listen": true, "http.token_file": true, "egress.rule": true}

// liveKey tells a setting a reload applies from one that needs a restart.
func liveKey(k string) bool {
	if liveTop[k] {
		return true
	}
	if f, ok := strings.CutPrefix(k, "smtpd."); ok {
		return liveSMTPD[f]
	}
	if f, ok := strings.CutPrefix(k, "queue."); ok {
		for _, l := range qmgr.LiveFields {
			if f == l {
				return true
			}
		}
	}
	return false
}

// reloader applies reloads, one at a time.
type reloader struct {
	src     configSource
	started *config.Config // what the daemon started with: restart keys are against it
	svc     *services
	log     *slog.Logger

	mu      sync.Mutex
	current *config.Config // the last configuration applied
	http    *httpHandle    // the running HTTP listener; set by startHTTP
}

// httpHandle is a running [http] listener and what restarting it needs.
type httpHandle struct {
	ctx   context.Context
	store *queue.Store
	ctl   *control.Server
	token string // the token in use, to notice a rewritten token_file
	stop  func()
	// release frees the addresses and returns the wait for the
	// requests in flight (startHTTP).
	release func() (drain func())
}

// startHTTP opens the HTTP listener of the current configuration.
func (r *reloader) startHTTP(ctx context.Context, store *queue.Store, ctl *control.Server) error {
	h := &httpHandle{ctx: ctx, store: store, ctl: ctl}
	if err := r.openHTTP(h, r.current); err != nil {
		return err
	}
	r.mu.Lock()
	r.http = h
	r.mu.Unlock()
	return nil
}

func (r *reloader) openHTTP(h *httpHandle, cfg *config.Config) error {
	stop, release, err := startHTTP(h.ctx, cfg, h.store, r.svc, h.ctl, r.log)
	if err != nil {
		return err
	}
	h.stop, h.release, h.token = stop, release, tokenOf(cfg)
	return nil
}

// stopHTTP closes the HTTP listener at shutdown.
func (r *reloader) stopHTTP() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.http != nil && r.http.stop != nil {
		r.http.stop()
	}
}

func tokenOf(cfg *config.Config) string {
	if cfg.HTTP.TokenFile == "" {
		return ""
	}
	tok, _ := httpapi.LoadToken(cfg.HTTP.TokenFile)
	return tok
}

// Reload is the control socket's "reload" and the work of SIGHUP.
func (r *reloader) Reload(ctx context.Context) (*control.ReloadResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	notify(r.log, "RELOADING=1", "MONOTONIC_USEC="+monotonicUsec())
	defer notify(r.log, "READY=1")
	cfg, err := loadConfigWith(r.src.path, r.src.override)
	if err != nil {
		return nil, fmt.Errorf("configuration rejected, the running one stays: %w", err)
	}
	// The rules file is read again even when its name did not change:
	// editing it and reloading is how an operator changes the rules.
	classes, err := cfg.BounceRules()
	if err != nil {
		return nil, fmt.Errorf("configuration rejected, the running one stays: bounce.classifier_rules: %w", err)
	}
	res := &control.ReloadResult{Config: configPath(r.src.path), Applied: []string{}, Restart: []string{}}
	for _, k := range changedKeys(r.started, cfg) {
		if !liveKey(k) {
			res.Restart = append(res.Restart, k)
		}
	}
	// Restart keys keep their running values; the new file's live
	// keys go on top of them.
	next := withLive(r.current, cfg)
	for _, k := range changedKeys(r.current, next) {
		res.Applied = append(res.Applied, k)
	}
	applySMTPD, err := r.smtpdReload(next) // checked before anything changes
	if err != nil {
		return nil, err
	}
	if err := r.reloadScripts(res); err != nil {
		return nil, err
	}
	if err := applySMTPD(); err != nil {
		return nil, err
	}
	if err := r.applyHTTP(next); err != nil {
		return nil, err
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.svc.qmgr.Reconfigure(qctx, qmgrConfig(next)); err != nil {
		return nil, fmt.Errorf("queue settings not applied: %w", err)
	}
	r.svc.qmgr.Classes.Set(classes)
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(next.LogLevel))
	r.src.level.Set(lvl)
	r.current = next
	return res, nil
}

// reloadScripts loads a new generation of the policy scripts (and the
// lookup tables they read).
func (r *reloader) reloadScripts(res *control.ReloadResult) error {
	eng := r.svc.engine
	if eng == nil {
		return nil
	}
	if err := eng.Reload(); err != nil {
		n, _ := eng.Generation()
		return &scriptsError{gen: n, err: err}
	}
	res.Generation, _ = eng.Generation()
	return nil
}

// applyHTTP closes and reopens the HTTP listener when its addresses or
// its token changed. When the new one cannot open, the old one is
// opened again and the error returned.
func (r *reloader) applyHTTP(next *config.Config) error {
	h := r.http
	if h == nil {
		return nil
	}
	same := fmt.Sprint(next.HTTP.Listen) == fmt.Sprint(r.current.HTTP.Listen) &&
		next.HTTP.TokenFile == r.current.HTTP.TokenFile && tokenOf(next) == h.token
	if same {
		return nil
	}
	if next.HTTP.TokenFile != "" {
		if _, err := httpapi.LoadToken(next.HTTP.TokenFile); err != nil {
			return fmt.Errorf("configuration rejected, the running one stays: http.token_file: %w", err)
		}
	}
	// The old listener's requests finish in the background: one of them
	// may be this reload, asked for over the API.
	drain := h.release()
	go drain()
	err := r.openHTTP(h, next)
	if err == nil {
		return nil
	}
	if err2 := r.openHTTP(h, r.current); err2 != nil {
		h.stop, h.release = func() {}, func() func() { return func() {} }
		return fmt.Errorf("http: %w; the previous listener failed to reopen too: %v", err, err2)
	}
	return fmt.Errorf("http listener not changed: %w", err)
}

// withLive is cur with the live settings of cfg.
func withLive(cur, cfg *config.Config) *config.Config {
	next := *cur
	next.LogLevel = cfg.LogLevel
	next.HTTP = cfg.HTTP
	next.Bounce = cfg.Bounce
	q := cfg.Queue
	q.ActiveLimit, q.InFlowDelay, q.Sync = cur.Queue.ActiveLimit, cur.Queue.InFlowDelay, cur.Queue.Sync
	next.Queue = q
	next.SMTPD = liveSMTPDOf(cur.SMTPD, cfg.SMTPD)
	return &next
}

// changedKeys are the TOML keys whose values differ between a and b,
// sorted. A table that appears or disappears (a [pipe.NAME]) counts by
// each of its keys.
func changedKeys(a, b *config.Config) []string {
	fa, fb := map[string]string{}, map[string]string{}
	flatten("", configMap(a), fa)
	flatten("", configMap(b), fb)
	var out []string
	for k, v := range fa {
		if w, ok := fb[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func flatten(prefix string, m map[string]any, out map[string]string) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flatten(prefix+k+".", sub, out)
			continue
		}
		out[prefix+k] = fmt.Sprint(v)
	}
}

// configPath names the file a reload reads, as loadConfig finds it.
func configPath(explicit string) string {
	switch {
	case explicit != "":
		return explicit
	case os.Getenv("MOONPOST_CONFIG") != "":
		return os.Getenv("MOONPOST_CONFIG")
	}
	if _, err := os.Stat("moonpost.toml"); err == nil {
		return "moonpost.toml"
	}
	return ""
}

// signalled runs a reload for SIGHUP and logs what came of it: the
// scripts' line as before, then the configuration's, and a warning
// naming the settings that wait for a restart.
func (r *reloader) signalled(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := r.Reload(ctx)
	r.report("SIGHUP", res, err, log)
}

// scriptsError is a reload refused by the policy scripts.
type scriptsError struct {
	gen int // the generation that stays
	err error
}

func (e *scriptsError) Error() string {
	return fmt.Sprintf("scripts rejected, the running generation %d stays: %v", e.gen, e.err)
}

func (e *scriptsError) Unwrap() error { return e.err }

// served is Reload for the control socket, logged as SIGHUP's is.
func (r *reloader) served(ctx context.Context) (*control.ReloadResult, error) {
	res, err := r.Reload(ctx)
	r.report("reload", res, err, r.log)
	return res, err
}

func (r *reloader) report(by string, res *control.ReloadResult, err error, log *slog.Logger) {
	var se *scriptsError
	switch {
	case errors.As(err, &se):
		log.Warn("moonpost: "+by+": scripts rejected, the running generation stays", "generation", se.gen, "err", se.err)
		return
	case err != nil:
		log.Warn("moonpost: "+by+": reload failed, the running configuration stays", "err", err)
		return
	}
	if r.svc.engine != nil {
		log.Info("moonpost: "+by+": policy scripts reloaded", "generation", res.Generation)
	}
	log.Info("moonpost: "+by+": configuration reloaded", "config", res.Config, "applied", strings.Join(res.Applied, ","))
	if len(res.Restart) > 0 {
		log.Warn("moonpost: "+by+": changed settings need a restart to take effect", "keys", strings.Join(res.Restart, ","))
	}
}
