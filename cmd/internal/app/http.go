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
//
// release closes the listening sockets at once and returns the function
// that waits for the requests in flight, so that a reload requested over
// this listener can reopen it and still answer.
func startHTTP(ctx context.Context, cfg *config.Config, store *queue.Store, svc *services, ctl *control.Server, log *slog.Logger) (stop func(), release func() (drain func()), err error) {
	if len(cfg.HTTP.Listen) == 0 {
		return func() {}, func() func() { return func() {} }, nil
	}
	var token string
	if cfg.HTTP.TokenFile != "" {
		if token, err = httpapi.LoadToken(cfg.HTTP.TokenFile); err != nil {
			return nil, nil, fmt.Errorf("http.token_file: %w", err)
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
	if svc.reloader != nil {
		srv.Reload = svc.reloader.served
	}
	if limit := cfg.SMTPD.MessageSizeLimit; limit > 0 {
		srv.MaxBody = 2*limit + 1<<20 // JSON escaping may double the content
	}
	if err := srv.Listen(); err != nil {
		return nil, nil, err
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
	release = func() func() {
		cancel()
		select {
		case <-srv.Unbound():
		case <-time.After(10 * time.Second): // Serve ended on an error: nothing is bound
		}
		return wg.Wait
	}
	return func() { cancel(); wg.Wait() }, release, nil
}
