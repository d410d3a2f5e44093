package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/httpapi"
	"github.com/moonpost/moonpost/core/metrics"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/webhook"
)

// startWebhooks opens each [[webhook]] sink on its folder of the spool,
// SPOOL/events/NAME. The caller closes them after the queue manager
// stopped, so the events of its last deliveries are spooled too.
func startWebhooks(cfg *config.Config, log *slog.Logger) ([]*webhook.Sink, error) {
	var sinks []*webhook.Sink
	for _, w := range cfg.Webhooks {
		wc := webhook.Config{Name: w.Name, URL: w.URL, Events: map[string]bool{}, BatchSize: w.BatchSize,
			FlushInterval: w.FlushInterval.D(), MaxSpoolBytes: w.MaxSpoolBytes, MinBackoff: w.MinBackoff.D(),
			MaxBackoff: w.MaxBackoff.D(), Timeout: w.Timeout.D(), Dir: filepath.Join(cfg.SpoolDir, "events", w.Name),
			Log: role(log, "webhook")}
		for _, e := range w.Events {
			wc.Events[e] = true
		}
		var err error
		if w.TokenFile != "" {
			if wc.Token, err = httpapi.LoadToken(w.TokenFile); err != nil {
				closeSinks(sinks)
				return nil, fmt.Errorf("webhook %s: token_file: %w", w.Name, err)
			}
		}
		s, err := webhook.New(wc)
		if err != nil {
			closeSinks(sinks)
			return nil, fmt.Errorf("webhook %s: %w", w.Name, err)
		}
		sinks = append(sinks, s)
	}
	return sinks, nil
}

func closeSinks(sinks []*webhook.Sink) {
	for _, s := range sinks {
		s.Close()
	}
}

// teeEvents gives each delivery event to every consumer in turn: the
// Lua "delivered"/"deferred"/"bounced" handlers, then the webhooks.
type teeEvents []policy.Events

// withSinks is ev followed by the sinks; ev alone when there are none.
func withSinks(ev policy.Events, sinks []*webhook.Sink) policy.Events {
	if len(sinks) == 0 {
		return ev
	}
	t := teeEvents{}
	if ev != nil {
		t = append(t, ev)
	}
	for _, s := range sinks {
		t = append(t, s)
	}
	return t
}

func (t teeEvents) Delivered(ctx context.Context, ev policy.Event) {
	for _, e := range t {
		e.Delivered(ctx, ev)
	}
}

func (t teeEvents) Deferred(ctx context.Context, ev policy.Event) {
	for _, e := range t {
		e.Deferred(ctx, ev)
	}
}

func (t teeEvents) Bounced(ctx context.Context, ev policy.Event) {
	for _, e := range t {
		e.Bounced(ctx, ev)
	}
}

// webhookFigures feeds the sinks' counters to /metrics.
func webhookFigures(sinks []*webhook.Sink) func() map[string]metrics.WebhookFigures {
	if len(sinks) == 0 {
		return nil
	}
	return func() map[string]metrics.WebhookFigures {
		out := make(map[string]metrics.WebhookFigures, len(sinks))
		for _, s := range sinks {
			st := s.Stats()
			out[s.Name()] = metrics.WebhookFigures{Sent: st.Sent, Dropped: st.Dropped, Failed: st.Failed, Batches: st.Batches, Bytes: st.Bytes}
		}
		return out
	}
}
