package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moonpost/moonpost/core/policy"
)

// Config is one sink's settings (config.Webhook, with the spool folder
// and token resolved).
type Config struct {
	Name          string
	URL           string
	Token         string          // bearer token; "" sends none
	Events        map[string]bool // "delivered", "deferred", "bounced"
	BatchSize     int
	FlushInterval time.Duration
	MaxSpoolBytes int64
	MinBackoff    time.Duration
	MaxBackoff    time.Duration
	Dir           string       // the spool folder, SPOOL/events/NAME
	Client        *http.Client // nil: one bounded by Timeout
	Timeout       time.Duration
	Log           *slog.Logger
}

// Event is one delivery outcome as the receiver sees it.
type Event struct {
	Event     string    `json:"event"` // delivered, deferred or bounced
	Time      time.Time `json:"time"`
	QueueID   string    `json:"queue_id"`
	Sender    string    `json:"sender"`
	Recipient string    `json:"recipient"`
	Relay     string    `json:"relay,omitempty"`
	Attempts  int       `json:"attempts"`
	Code      int       `json:"code"`
	Enhanced  string    `json:"enhanced"`
	Text      string    `json:"text"`
	Tenant    string    `json:"tenant,omitempty"` // the message's tenant, when policy chose one
	Class     string    `json:"class,omitempty"`  // bounce class of a deferral or bounce
}

// Stats counts what a sink did since start.
type Stats struct {
	Sent    int64 // events the receiver took
	Dropped int64 // events refused for want of spool space
	Failed  int64 // POSTs that failed
	Batches int   // batches waiting in the spool
	Bytes   int64 // their size
}

// Sink is a running webhook. It implements policy.Events; the calls may
// come from any goroutine and wait only when the intake is full.
type Sink struct {
	cfg   Config
	spool *spool
	in    chan Event
	wake  chan struct{} // a batch was written
	stop  chan struct{} // Close was called
	ctx   context.Context
	halt  context.CancelFunc
	wg    sync.WaitGroup

	sent, dropped, failed atomic.Int64
	dropLogged            atomic.Int64 // unix seconds of the last drop warning
}

// New opens the sink's spool and starts its writer and sender. Batches
// left by an earlier run are sent first.
func New(cfg Config) (*Sink, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.BatchSize < 1 || cfg.MinBackoff <= 0 || cfg.MaxBackoff < cfg.MinBackoff || cfg.URL == "" {
		return nil, errors.New("webhook: need url, batch_size >= 1 and 0 < min_backoff <= max_backoff")
	}
	sp, err := openSpool(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, spool: sp, in: make(chan Event, 4*cfg.BatchSize),
		wake: make(chan struct{}, 1), stop: make(chan struct{})}
	s.ctx, s.halt = context.WithCancel(context.Background())
	if n, b := sp.usage(); n > 0 {
		cfg.Log.Info("webhook: batches waiting from an earlier run", "webhook", cfg.Name, "batches", n, "bytes", b)
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.writer() }()
	go func() { defer s.wg.Done(); s.sender() }()
	return s, nil
}

// Close writes the events still in memory to the spool and stops. Call
// it after the last event (the queue manager has stopped): an event sent
// during or after Close is dropped.
func (s *Sink) Close() {
	close(s.stop)
	s.halt()
	s.wg.Wait()
}

// Name is the sink's name (config "name").
func (s *Sink) Name() string { return s.cfg.Name }

// Stats returns the counters and the spool's size.
func (s *Sink) Stats() Stats {
	st := Stats{Sent: s.sent.Load(), Dropped: s.dropped.Load(), Failed: s.failed.Load()}
	st.Batches, st.Bytes = s.spool.usage()
	return st
}

func (s *Sink) Delivered(ctx context.Context, ev policy.Event) { s.take(ctx, "delivered", ev) }
func (s *Sink) Deferred(ctx context.Context, ev policy.Event)  { s.take(ctx, "deferred", ev) }
func (s *Sink) Bounced(ctx context.Context, ev policy.Event)   { s.take(ctx, "bounced", ev) }

// take queues one event, waiting while the intake is full.
func (s *Sink) take(ctx context.Context, kind string, pe policy.Event) {
	if !s.cfg.Events[kind] {
		return
	}
	ev := Event{Event: kind, Time: time.Now().UTC(), QueueID: pe.QueueID, Sender: pe.Sender,
		Recipient: pe.Recipient, Relay: pe.Relay, Attempts: pe.Attempts, Class: pe.Class}
	ev.Tenant = pe.Tenant
	if st := pe.Status; st != nil {
		ev.Code, ev.Enhanced, ev.Text = st.Code, st.Enhanced.String(), st.Text
	}
	select {
	case s.in <- ev:
	case <-s.stop:
		s.drop(1)
	case <-ctx.Done():
		s.drop(1)
	}
}

// writer gathers events into batches and commits them to the spool: a
// batch is written when it is full or its first event has waited
// FlushInterval, and at Close.
func (s *Sink) writer() {
	var pending []Event
	var flush <-chan time.Time
	var timer *time.Timer
	for {
		select {
		case ev := <-s.in:
			pending = append(pending, ev)
			if len(pending) == 1 && len(pending) < s.cfg.BatchSize {
				timer = time.NewTimer(s.cfg.FlushInterval)
				flush = timer.C
			}
			if len(pending) < s.cfg.BatchSize {
				continue
			}
		case <-flush:
		case <-s.stop:
			for len(s.in) > 0 {
				pending = append(pending, <-s.in)
			}
			for len(pending) > 0 {
				n := min(len(pending), s.cfg.BatchSize)
				s.commit(pending[:n])
				pending = pending[n:]
			}
			return
		}
		if timer != nil {
			timer.Stop()
			timer, flush = nil, nil
		}
		s.commit(pending)
		pending = nil
	}
}

// commit writes one batch, or drops it when the spool is full or the
// disk refuses it.
func (s *Sink) commit(evs []Event) {
	if len(evs) == 0 {
		return
	}
	body, err := json.Marshal(evs)
	if err != nil {
		s.cfg.Log.Error("webhook: cannot encode events", "webhook", s.cfg.Name, "err", err)
		s.drop(len(evs))
		return
	}
	if !s.spool.room(int64(len(body)), s.cfg.MaxSpoolBytes) {
		s.drop(len(evs))
		return
	}
	if err := s.spool.write(body); err != nil {
		s.cfg.Log.Error("webhook: cannot spool events", "webhook", s.cfg.Name, "events", len(evs), "err", err)
		s.drop(len(evs))
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// drop counts events lost for want of space, with one warning a minute.
func (s *Sink) drop(n int) {
	total := s.dropped.Add(int64(n))
	now := time.Now().Unix()
	if last := s.dropLogged.Load(); now-last >= 60 && s.dropLogged.CompareAndSwap(last, now) {
		_, bytes := s.spool.usage()
		s.cfg.Log.Warn("webhook: events dropped: the spool is full or the sink stopped", "webhook", s.cfg.Name,
			"dropped_total", total, "spool_bytes", bytes, "max_spool_bytes", s.cfg.MaxSpoolBytes)
	}
}
