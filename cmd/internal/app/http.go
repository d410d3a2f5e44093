package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/control"
	"github.com/moonpost/moonpost/core/httpapi"
	"github.com/moonpost/moonpost/core/metrics"
	"github.com/moonpost/moonpost/core/queue"
)

// startHTTP opens the [http] listener, when one is configured, and serves
// it in a goroutine; stop shuts it down and waits. Status and queue
// operations go through the control server, the CLI's own code.
func startHTTP(ctx context.Context, cfg *config.Config, store *queue.Store, svc *services, ctl *control.Server, log *slog.Logger) (stop func(), err error) {
	if len(cfg.HTTP.Listen) == 0 {
		return func() {}, nil
	}
	var token string
	if cfg.HTTP.TokenFile != "" {
		if token, err = httpapi.LoadToken(cfg.HTTP.TokenFile); err != nil {
			return nil, fmt.Errorf("http.token_file: %w", err)
		}
	} else {
		log.Warn("http: no token_file: every /api/ request is refused; /metrics is served")
	}
	src := &metrics.Sources{Qmgr: svc.qmgr.Stats, Received: svc.clean.Received, Store: store, Started: time.Now(),
		Webhooks: webhookFigures(svc.sinks), Roles: metricRoles(svc, store)}
	if svc.engine != nil {
		src.Generation = func() (int, bool) {
			n, _ := svc.engine.Generation()
			return n, svc.engine.LastError() != nil
		}
	}
	srv := &httpapi.Server{Addrs: cfg.HTTP.Listen, Token: token, Metrics: metrics.Handler(src), Control: ctl,
		Admin: &admin.Admin{Store: store, Manager: svc.qmgr}, Submit: svc.clean, Log: log}
	if limit := cfg.SMTPD.MessageSizeLimit; limit > 0 {
		srv.MaxBody = 2*limit + 1<<20 // JSON escaping may double the content
	}
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	for _, a := range srv.ListenAddrs() {
		log.Info("moonpost: http listening", "addr", a.String())
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx); err != nil {
			log.Error("http listener failed", "err", err)
		}
	}()
	return func() { cancel(); wg.Wait() }, nil
}
