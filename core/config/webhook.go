package config

import (
	"fmt"
	"net/url"
	"time"
)

// Webhook is one [[webhook]] sink: delivery events (delivered,
// deferred, bounced) POSTed as JSON batches to URL, spooled under
// SPOOL/events/NAME/ until the receiver answers 2xx (core/webhook).
type Webhook struct {
	// name: the sink's folder under SPOOL/events/; default "webhook".
	// Two sinks need two names.
	Name string `toml:"name"`
	// url: http:// or https:// address the batches are POSTed to.
	URL string `toml:"url"`
	// events: which outcomes to send; default all three.
	Events []string `toml:"events"`
	// token_file: a bearer token sent as "Authorization: Bearer ...";
	// default none.
	TokenFile string `toml:"token_file"`
	// batch_size: events per POST at most; default 100.
	BatchSize int `toml:"batch_size"`
	// flush_interval: how long an event may wait for a full batch
	// before it is written to the spool and sent; default 1s.
	FlushInterval Duration `toml:"flush_interval"`
	// max_spool_bytes: the spool of unsent batches stops growing here;
	// new events are then dropped and counted; default 64 MiB.
	MaxSpoolBytes int64 `toml:"max_spool_bytes"`
	// timeout: bound on one POST; default 10s.
	Timeout Duration `toml:"timeout"`
	// min_backoff, max_backoff: the wait after a failed POST, doubling
	// from min to max; defaults 1s and 5m.
	MinBackoff Duration `toml:"min_backoff"`
	MaxBackoff Duration `toml:"max_backoff"`
}

// webhookDefaults fills in each sink's defaults.
func (c *Config) webhookDefaults() {
	for i := range c.Webhooks {
		w := &c.Webhooks[i]
		if w.Name == "" {
			w.Name = "webhook"
		}
		if w.Events == nil {
			w.Events = []string{"delivered", "deferred", "bounced"}
		}
		def := func(d *Duration, v time.Duration) {
			if *d == 0 {
				*d = Duration(v)
			}
		}
		if w.BatchSize == 0 {
			w.BatchSize = 100
		}
		if w.MaxSpoolBytes == 0 {
			w.MaxSpoolBytes = 64 << 20
		}
		def(&w.FlushInterval, time.Second)
		def(&w.Timeout, 10*time.Second)
		def(&w.MinBackoff, time.Second)
		def(&w.MaxBackoff, 5*time.Minute)
	}
}

func (c *Config) validateWebhooks(p *problems) {
	c.webhookDefaults()
	seen := map[string]bool{}
	for i, w := range c.Webhooks {
		key := fmt.Sprintf("webhook[%d]", i)
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.bad(key+".url", "%q is not an http:// or https:// URL", w.URL)
		}
		if seen[w.Name] || !validSinkName(w.Name) {
			p.bad(key+".name", "%q: want a unique name of letters, digits, '-' and '_'", w.Name)
		}
		seen[w.Name] = true
		for _, e := range w.Events {
			oneOf(p, key+".events", e, "delivered", "deferred", "bounced")
		}
		if w.BatchSize < 1 || w.BatchSize > 10000 {
			p.bad(key+".batch_size", "must be between 1 and 10000")
		}
		if w.MaxSpoolBytes < 1<<20 {
			p.bad(key+".max_spool_bytes", "must be at least 1 MiB")
		}
		if w.FlushInterval < 0 || w.Timeout <= 0 || w.MinBackoff <= 0 || w.MaxBackoff < w.MinBackoff {
			p.bad(key, "need flush_interval >= 0, timeout > 0 and 0 < min_backoff <= max_backoff")
		}
	}
}

func validSinkName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
