package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/control"
	"github.com/moonpost/moonpost/core/queue"
)

// controlHooks is the hooks engine the REPL's hooks module uses. It is
// nil while the daemon runs no scripts; return a nil interface then, not
// a nil *hooks.Engine.
func controlHooks(svc *services) control.Hooks {
	if svc.engine == nil {
		return nil
	}
	return svc.engine
}

// startControl opens the control socket and serves it in a goroutine.
// The returned stop closes every session and waits for them.
func startControl(ctx context.Context, cfg *config.Config, store *queue.Store, svc *services, log *slog.Logger) (srv *control.Server, stop func(), err error) {
	srv = &control.Server{
		Path:      control.SocketPath(cfg.SpoolDir),
		Admin:     &admin.Admin{Store: store, Manager: svc.qmgr},
		Hooks:     controlHooks(svc),
		Config:    configMap(cfg),
		Log:       log,
		Started:   time.Now(),
		Listeners: func() []string { return listenerNames(svc) },
		Route: func(ctx context.Context, w io.Writer, addr, sender string, header []string) error {
			return explainRoute(ctx, w, svc.engine, svc.route, addr, sender, header)
		},
		PolicyDiff: func(ctx context.Context, w io.Writer, dir string, samples []string) error {
			return policyDiff(ctx, w, cfg, svc.route, svc.dns, &admin.Admin{Store: store, Manager: svc.qmgr}, dir, samples)
		},
		Counters: func() map[string]int {
			s := svc.qmgr.Stats()
			return map[string]int{"delivered": s.Delivered, "deferred": s.Deferred, "bounced": s.Bounced, "expired": s.Expired}
		},
	}
	if err := srv.Listen(); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx); err != nil {
			log.Error("control socket failed", "err", err)
		}
	}()
	log.Info("moonpost: control socket ready", "path", srv.Path)
	return srv, func() { cancel(); wg.Wait() }, nil
}

func listenerNames(svc *services) []string {
	var out []string
	for _, a := range svc.smtpd.Addrs() {
		out = append(out, a.String())
	}
	return out
}

// configMap is the configuration under its TOML names, for the REPL's
// read-only config module.
func configMap(cfg *config.Config) map[string]any {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
		return map[string]any{}
	}
	m := map[string]any{}
	if _, err := toml.Decode(buf.String(), &m); err != nil {
		return map[string]any{}
	}
	return m
}
