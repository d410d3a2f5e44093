package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"syscall"
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

// controlRetry is how often a control socket that could not be created
// is tried again.
const controlRetry = 2 * time.Second

// startControl opens the control socket and serves it in a goroutine.
// The returned stop closes every session and waits for them.
//
// A socket that cannot be created for want of space (a full disk has no
// room for its inode or directory entry) does not stop the daemon: mail
// is served without it, the failure is logged once, and the socket is
// tried again every controlRetry until it works. Any other failure is
// fatal as before, above all a live socket: another daemon runs on this
// spool.
func startControl(ctx context.Context, cfg *config.Config, store *queue.Store, svc *services, log *slog.Logger) (srv *control.Server, stop func(), err error) {
	srv = &control.Server{
		Path:      control.SocketPath(cfg.SpoolDir),
		Admin:     &admin.Admin{Store: store, Manager: svc.qmgr},
		Hooks:     controlHooks(svc),
		Config:    configMap(cfg),
		Log:       log,
		Started:   time.Now(),
		Listeners: func() []string { return listenerNames(svc) },
		Reload:    reloadFunc(svc),
		Busiest:   busiest(svc),
		Route: func(ctx context.Context, w io.Writer, addr, sender string, header []string) error {
			return explainRoute(ctx, w, svc.engine, svc.route, addr, sender, header)
		},
		PolicyDiff: func(ctx context.Context, w io.Writer, dir string, samples []string) error {
			return policyDiff(ctx, w, cfg, svc.route, svc.dns, &admin.Admin{Store: store, Manager: svc.qmgr}, dir, samples)
		},
		Counters: func() map[string]int {
			s := svc.qmgr.Stats()
			received := 0
			for _, n := range svc.clean.Received() {
				received += int(n)
			}
			return map[string]int{"delivered": s.Delivered, "deferred": s.Deferred, "bounced": s.Bounced, "expired": s.Expired,
				"received": received, "in_flight": s.InFlight}
		},
	}
	lerr := srv.Listen() // at once when it can: a client may connect right after start
	if lerr != nil && !noSpace(lerr) {
		return nil, nil, lerr
	} else if lerr != nil {
		log.Warn("moonpost: control socket unavailable; serving mail without it, retrying", "path", srv.Path, "err", lerr, "every", controlRetry)
	} else {
		log.Info("moonpost: control socket ready", "path", srv.Path)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if lerr != nil && !listenLater(ctx, srv, store, log) {
			return
		}
		if err := srv.Serve(ctx); err != nil {
			log.Error("control socket failed", "err", err)
		}
	}()
	return srv, func() { cancel(); wg.Wait() }, nil
}

// noSpace tells a failure for want of disk space or inodes.
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// listenLater retries creating the control socket until it works (true)
// or ctx ends (false). Before each try the spool's spare files are
// dropped: on a file system out of inodes they hold the ones delivered
// mail gave back.
func listenLater(ctx context.Context, srv *control.Server, store *queue.Store, log *slog.Logger) bool {
	t := time.NewTicker(controlRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		store.DropSpares()
		if srv.Listen() == nil {
			log.Info("moonpost: control socket ready", "path", srv.Path)
			return true
		}
	}
}

// reloadFunc is the control socket's "reload" op.
func reloadFunc(svc *services) control.Reloader {
	if svc.reloader == nil {
		return nil
	}
	return svc.reloader.served
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
