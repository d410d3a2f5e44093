package qmgr

import (
	"context"
	"time"
)

// Live settings. A reload of the configuration hands the manager a new
// Config through Reconfigure; the manager's goroutine swaps it in
// between two events, so no delivery, scan or admin action ever sees
// half of each. Settings read off that goroutine stay as they started:
// ActiveLimit (the handoff from cleanup checks it) and TransportRcpts.
// LiveFields names the rest, the ones a reload changes.

// LiveFields are the Config fields Reconfigure applies, by their
// config.Queue TOML names.
var LiveFields = []string{
	"min_backoff", "max_backoff", "max_lifetime", "bounce_lifetime", "delay_warning",
	"scan_interval", "destination_concurrency", "initial_concurrency",
	"destination_recipient_limit", "delivery_timeout", "max_deliveries",
}

// Reconfigure makes c the manager's settings, all but the fields listed
// above as fixed, and returns once the manager's goroutine has taken
// them (or ctx ends); before Run starts, it waits for it.
func (m *Manager) Reconfigure(ctx context.Context, c Config) error {
	m.Init()
	select {
	case m.reconf <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// applyConfig runs on the manager's goroutine. A destination whose
// window is over a lowered maximum is brought down to it; the
// deliveries already running finish.
func (m *Manager) applyConfig(c Config, tick *time.Ticker) {
	c.ActiveLimit, c.TransportRcpts = m.Config.ActiveLimit, m.Config.TransportRcpts
	if c.ScanInterval != m.Config.ScanInterval && c.ScanInterval > 0 {
		tick.Reset(c.ScanInterval)
	}
	m.Config = c
	m.publishConfig()
	for _, l := range m.lanes {
		l.limit = max(1, min(l.limit, l.max(c)))
	}
}

// publishConfig makes the settings in m.Config the ones the goroutines
// off the manager's loop read (settling: lifetimes, backoff, delay
// warnings); the loop itself reads m.Config.
func (m *Manager) publishConfig() {
	c := m.Config
	m.live.Store(&c)
}

// settings are the settings for code off the manager's loop.
func (m *Manager) settings() *Config {
	if c := m.live.Load(); c != nil {
		return c
	}
	return &m.Config
}
