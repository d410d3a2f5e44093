package metrics

import (
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
)

// Sources are the engine's figures. Every field may be nil: its metrics
// are then left out.
type Sources struct {
	Qmgr     func() qmgr.Stats
	Received func() map[string]int64 // committed messages by origin
	Store    *queue.Store            // queue sizes and ages
	// Generation returns the live script generation (0: none loaded)
	// and whether the last reload failed.
	Generation func() (gen int, failed bool)
	Started    time.Time
	// QueueTTL bounds how often the queue directories are listed (0: 5 s).
	QueueTTL time.Duration
	Now      func() time.Time // nil: time.Now
	// Webhooks returns each [[webhook]] sink's figures by name (webhook.go).
	Webhooks func() map[string]WebhookFigures
	// Roles are the figures of smtpd, the hooks, DNS, the spool's syncs,
	// the connection cache, sites and tenants (families.go).
	Roles Roles
}

// QueueStates are the queues whose sizes are exported.
var QueueStates = []queue.State{queue.Maildrop, queue.Incoming, queue.Active, queue.Deferred, queue.Hold, queue.Corrupt}

// Handler returns the /metrics handler for src, with Go runtime and
// process metrics beside moonpost's own.
func Handler(src *Sources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(src), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

type collector struct {
	src *Sources

	mu       sync.Mutex
	listedAt time.Time
	queues   map[queue.State]queueFigures
}

// queueFigures are one queue directory's size at the last listing.
type queueFigures struct {
	messages int
	bytes    int64
	oldest   time.Time // arrival of the oldest message (zero: empty)
}

var (
	descReceived   = prometheus.NewDesc("moonpost_messages_received_total", "Messages committed to the queue, by origin (smtp, local, http).", []string{"origin"}, nil)
	descOutcomes   = prometheus.NewDesc("moonpost_deliveries_total", "Recipient delivery outcomes, by transport and status (sent, deferred, bounced).", []string{"transport", "status"}, nil)
	descExpired    = prometheus.NewDesc("moonpost_messages_expired_total", "Messages returned to the sender after the maximal queue lifetime.", nil, nil)
	descInFlight   = prometheus.NewDesc("moonpost_deliveries_in_flight", "Deliveries running now.", nil, nil)
	descEgressHeld = prometheus.NewDesc("moonpost_egress_held_total", "Deliveries a shared egress rate held back to wait, untried.", nil, nil)
	descQueueMsgs  = prometheus.NewDesc("moonpost_queue_messages", "Messages in each queue directory.", []string{"queue"}, nil)
	descQueueBytes = prometheus.NewDesc("moonpost_queue_bytes", "Bytes of queue files in each queue directory.", []string{"queue"}, nil)
	descQueueAge   = prometheus.NewDesc("moonpost_queue_oldest_message_age_seconds", "Age of the oldest message in each queue directory (0 when empty).", []string{"queue"}, nil)
	descGeneration = prometheus.NewDesc("moonpost_scripts_generation", "The live Lua script generation (0: built-in policy).", nil, nil)
	descReloadFail = prometheus.NewDesc("moonpost_scripts_last_reload_failed", "1 when the last script reload failed and an older generation still runs.", nil, nil)
	descStarted    = prometheus.NewDesc("moonpost_start_time_seconds", "When the daemon started, in Unix seconds.", nil, nil)
	descBuild      = prometheus.NewDesc("moonpost_build_info", "Always 1; labels name the Go version.", []string{"goversion"}, nil)
)

func newCollector(src *Sources) *collector { return &collector{src: src} }

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReceived, descOutcomes, descExpired, descInFlight, descQueueMsgs,
		descQueueBytes, descQueueAge, descGeneration, descReloadFail, descStarted, descBuild} {
		ch <- d
	}
	for _, d := range webhookDescs {
		ch <- d
	}
	for _, d := range roleDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descBuild, prometheus.GaugeValue, 1, runtime.Version())
	if !c.src.Started.IsZero() {
		ch <- prometheus.MustNewConstMetric(descStarted, prometheus.GaugeValue, float64(c.src.Started.UnixNano())/1e9)
	}
	if c.src.Received != nil {
		for origin, n := range c.src.Received() {
			ch <- prometheus.MustNewConstMetric(descReceived, prometheus.CounterValue, float64(n), origin)
		}
	}
	if c.src.Qmgr != nil {
		c.collectQmgr(ch, c.src.Qmgr())
	}
	if c.src.Generation != nil {
		gen, failed := c.src.Generation()
		ch <- prometheus.MustNewConstMetric(descGeneration, prometheus.GaugeValue, float64(gen))
		ch <- prometheus.MustNewConstMetric(descReloadFail, prometheus.GaugeValue, b2f(failed))
	}
	if c.src.Store != nil {
		c.collectQueues(ch)
	}
	c.collectWebhooks(ch)
	c.collectRoles(ch)
}

func (c *collector) collectQmgr(ch chan<- prometheus.Metric, s qmgr.Stats) {
	for transport, o := range s.ByTransport {
		for status, n := range map[string]int{"sent": o.Delivered, "deferred": o.Deferred, "bounced": o.Bounced} {
			ch <- prometheus.MustNewConstMetric(descOutcomes, prometheus.CounterValue, float64(n), transport, status)
		}
	}
	ch <- prometheus.MustNewConstMetric(descExpired, prometheus.CounterValue, float64(s.Expired))
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(s.InFlight))
	ch <- prometheus.MustNewConstMetric(descEgressHeld, prometheus.CounterValue, float64(s.Held))
}

func (c *collector) collectQueues(ch chan<- prometheus.Metric) {
	now := c.now()
	for st, q := range c.queueFigures(now) {
		age := 0.0
		if !q.oldest.IsZero() && now.After(q.oldest) {
			age = now.Sub(q.oldest).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(descQueueMsgs, prometheus.GaugeValue, float64(q.messages), string(st))
		ch <- prometheus.MustNewConstMetric(descQueueBytes, prometheus.GaugeValue, float64(q.bytes), string(st))
		ch <- prometheus.MustNewConstMetric(descQueueAge, prometheus.GaugeValue, age, string(st))
	}
}

// queueFigures lists the queue directories, at most once per QueueTTL.
func (c *collector) queueFigures(now time.Time) map[queue.State]queueFigures {
	c.mu.Lock()
	defer c.mu.Unlock()
	ttl := c.src.QueueTTL
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	if c.queues != nil && now.Sub(c.listedAt) < ttl {
		return c.queues
	}
	figs := make(map[queue.State]queueFigures, len(QueueStates))
	for _, st := range QueueStates {
		var f queueFigures
		err := c.src.Store.Walk(st, func(e queue.Entry) bool {
			f.messages++
			f.bytes += e.Size
			if t := e.ID.Time(); f.oldest.IsZero() || t.Before(f.oldest) {
				f.oldest = t
			}
			return true
		})
		if err != nil {
			continue
		}
		figs[st] = f
	}
	c.queues, c.listedAt = figs, now
	return figs
}

func (c *collector) now() time.Time {
	if c.src.Now != nil {
		return c.src.Now()
	}
	return time.Now()
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
