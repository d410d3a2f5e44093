package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/queue"
)

// daemon starts the MTA and runs until SIGINT or SIGTERM; SIGHUP
// reloads the policy scripts.
func daemon(args []string) int {
	// SIGHUP is taken first of all: its default action kills the
	// process, and an admin's reload must never be a shutdown. One that
	// comes during the start is a reload once started.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	fs := flag.NewFlagSet("moonpost", flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file (default: $MOONPOST_CONFIG, ./moonpost.toml, or the embedded default)")
	spool := fs.String("spool", "", "spool directory (overrides spool_dir)")
	listen := fs.String("listen", "", "SMTP listener host:port, comma-separated for several (overrides smtpd.listen)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile here until shutdown (for performance work)")
	if err := fs.Parse(args); err != nil {
		return exUsage
	}
	src := configSource{path: *cfgPath, override: func(c *config.Config) {
		if *spool != "" {
			c.SpoolDir = *spool
		}
		if *listen != "" {
			c.SMTPD.Listen = strings.Split(*listen, ",")
		}
	}, level: new(slog.LevelVar)}
	cfg, err := loadConfigWith(*cfgPath, src.override) // and again at each reload
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exConfig
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "moonpost:", err)
			return exSoftware
		}
		defer stopProfile()
	}
	tuneGC()

	log := newLogger(cfg, src.level)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, src, log, hup); err != nil {
		log.Error("moonpost: fatal", "err", err)
		return exSoftware
	}
	return exOK
}

// newLogger makes the daemon's logger; level is set to log_level here
// and again by each reload.
func newLogger(cfg *config.Config, level *slog.LevelVar) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	level.Set(lvl)
	opts := &slog.HandlerOptions{Level: level}
	switch cfg.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	case "syslog":
		return slog.New(newSyslogHandler(os.Stderr, level, cfg.Hostname, os.Getpid()))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// spareFiles is how many files of delivered messages the spool keeps for
// reuse by new ones (queue.KeepSpares): enough that a backlog of a few
// thousand messages, once delivered, is not unlinked only to be created
// again; at most 256 MiB of disk (spares over 64 KiB are emptied), in
// practice the size of the messages of a busy minute.
const spareFiles = 4096

// chooseSync sets how the spool's writes reach the disk: mode "auto"
// takes syncfs where the spool directory is a file system of its own
// and fsync elsewhere.
func chooseSync(store *queue.Store, mode string, log *slog.Logger) error {
	why := "configured"
	if mode == "auto" {
		mode, why = "fsync", "auto: the spool shares its file system"
		switch {
		case !queue.OwnFileSystem(store.Root()):
		case !queue.SyncfsReportsErrors():
			why = "auto: this kernel's syncfs does not report write errors"
		default:
			mode, why = "syncfs", "auto: the spool is a file system of its own"
		}
	}
	log.Info("queue sync", "mode", mode, "why", why)
	if mode == "syncfs" {
		if !queue.SyncfsReportsErrors() {
			log.Warn("queue.sync = \"syncfs\" on a kernel whose syncfs does not report write errors (before Linux 5.8): a failed write may go unnoticed")
		}
		return store.UseSyncfs()
	}
	return nil
}

// run assembles the services and runs them until ctx ends, then shuts
// them down in order: stop accepting mail, then let deliveries finish.
// A signal on hup reloads the configuration and the policy scripts.
//
// Starting writes nothing into the spool but what mail needs (recovery's
// renames, the control socket): a daemon that crashed on a full disk
// must come back and deliver the queued mail, which frees the space.
func run(ctx context.Context, cfg *config.Config, src configSource, log *slog.Logger, hup <-chan os.Signal) error {
	store, err := queue.Open(cfg.SpoolDir, log)
	if err != nil {
		return fmt.Errorf("spool %s: %w", cfg.SpoolDir, err)
	}
	defer store.Close()
	store.SweepStrays() // the daemon owns the spool: odd entries go to corrupt/
	if err := chooseSync(store, cfg.Queue.Sync, log); err != nil {
		return fmt.Errorf("queue.sync: %w", err)
	}
	if err := maildropAccess(store, cfg, log); err != nil {
		return err
	}
	if n, err := store.Recover(); err != nil {
		return fmt.Errorf("recovery: %w", err)
	} else if n > 0 {
		log.Info("recovered messages from active/ to incoming/", "count", n)
	}
	if err := store.KeepSpares(spareFiles); err != nil {
		// Only an optimisation: its folder may not fit on a full disk.
		log.Warn("queue: running without spare files", "err", err)
	}
	svc, err := assemble(cfg, store, log)
	if err != nil {
		return err
	}
	if err := svc.smtpd.Listen(); err != nil {
		return err
	}
	for _, a := range svc.smtpd.Addrs() {
		log.Info("moonpost: listening", "addr", a.String())
	}
	svc.reloader = &reloader{src: src, started: cfg, current: cfg, svc: svc, log: log}
	ctl, stopControl, err := startControl(ctx, cfg, store, svc, log)
	if err != nil {
		return err
	}
	defer stopControl()
	if err := svc.reloader.startHTTP(ctx, store, ctl); err != nil {
		return err
	}
	defer svc.reloader.stopHTTP()
	stopHup := svc.reloadOn(hup, log)
	defer stopHup()
	log.Info("moonpost: started", "spool", cfg.SpoolDir, "hostname", cfg.Hostname, "pid", os.Getpid())
	notify(log, "READY=1", "STATUS=accepting mail", fmt.Sprintf("MAINPID=%d", os.Getpid())) // Type=notify (sdnotify.go)
	return svc.run(ctx, log)
}

// reloadOn reloads the configuration and the policy scripts at every
// signal on hup (reload.go) and logs what came of it. The returned
// function stops the goroutine.
func (s *services) reloadOn(hup <-chan os.Signal, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-hup:
				s.reload(log)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (s *services) reload(log *slog.Logger) {
	if s.reloader != nil {
		s.reloader.signalled(log)
		return
	}
	if s.engine == nil {
		log.Info("moonpost: SIGHUP: no policy scripts to reload")
		return
	}
	if err := s.engine.Reload(); err != nil {
		n, _ := s.engine.Generation()
		log.Warn("moonpost: SIGHUP: scripts rejected, the running generation stays", "generation", n, "err", err)
		return
	}
	n, _ := s.engine.Generation()
	log.Info("moonpost: SIGHUP: policy scripts reloaded", "generation", n)
}

// run starts each service in its goroutine and waits for them. The mail
// sources stop first; the queue manager then drains its deliveries.
func (s *services) run(ctx context.Context, log *slog.Logger) error {
	inCtx, stopIn := context.WithCancel(ctx)
	defer stopIn()
	qCtx, stopQ := context.WithCancel(context.Background())
	defer stopQ()
	var inputs, qm sync.WaitGroup
	errc := make(chan error, 3)
	inputs.Add(2)
	go func() { defer inputs.Done(); errc <- s.smtpd.Serve(inCtx) }()
	go func() { defer inputs.Done(); errc <- s.pickup.Run(inCtx) }()
	if s.clean.DKIM != nil && s.clean.DKIM.Keys != nil {
		inputs.Add(1) // DKIM key files: read again as they change
		go func() { defer inputs.Done(); s.clean.DKIM.Keys.Watch(inCtx) }()
	}
	qm.Add(1)
	go func() { defer qm.Done(); errc <- s.qmgr.Run(qCtx) }()
	var reports sync.WaitGroup // TLS reports: stopped last, so the drain's sessions are stored
	rCtx, stopR := context.WithCancel(context.Background())
	defer stopR()
	if s.tlsrpt != nil {
		reports.Add(1)
		go func() { defer reports.Done(); s.tlsrpt.Run(rCtx) }()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc: // a service died: shut everything down
	}
	log.Info("moonpost: shutting down")
	notify(log, "STOPPING=1")
	stopIn()
	inputs.Wait()
	stopQ()
	qm.Wait()
	stopR()
	reports.Wait()
	for _, a := range s.qmgr.Agents {
		if c, ok := a.(io.Closer); ok {
			c.Close() // cached outbound connections
		}
	}
	if s.closer != nil {
		s.closer()
	}
	log.Info("moonpost: stopped")
	if first != nil && !errors.Is(first, context.Canceled) {
		return first
	}
	return nil
}

func loadTLS(cfg *config.Config) (*tls.Config, error) {
	if cfg.SMTPD.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.SMTPD.TLSCert, cfg.SMTPD.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("smtpd.tls_cert: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// startCPUProfile profiles the daemon until the returned function runs.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// tuneGC lets the heap grow to five times the live data between
// collections (GOGC=400) unless GOGC is set: the daemon's live heap is a
// few tens of megabytes, and collecting less often saves CPU per message.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
