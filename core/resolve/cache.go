package resolve

import (
	"maps"
	"sync"
	"time"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Cache remembers checked decisions for one script generation, keyed by
// what each decision depended on: the recipient, plus the envelope fields
// the router said it read (policy.Route.Reads). A decision that read only
// the recipient serves every message to that recipient; one that read the
// queue ID serves only its own message. A new generation empties the
// cache. Entries also expire after TTL, because a script may consult what
// changes under the same generation (DNS, a lookup table edited on disk,
// the clock); errors are never cached.
type Cache struct {
	// Generation reports the live script generation (nil: one forever).
	Generation func() int
	TTL        time.Duration    // 0: DefaultCacheTTL
	Max        int              // recipients remembered; 0: DefaultCacheMax
	Now        func() time.Time // nil: time.Now

	mu      sync.Mutex
	gen     int
	entries map[string][]cached // by recipient
}

// Defaults for Cache.
const (
	DefaultCacheTTL = 30 * time.Second
	DefaultCacheMax = 10000
	perRecipient    = 8 // decisions kept per recipient, newest first
)

// cached is one decision and the envelope facts it rests on.
type cached struct {
	reads   policy.EnvFields
	env     queue.Envelope // only the fields in reads are meaningful
	dest    Destination
	expires time.Time
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// sync empties the cache when the generation changed; called locked.
func (c *Cache) sync() {
	gen := 0
	if c.Generation != nil {
		gen = c.Generation()
	}
	if c.entries == nil || gen != c.gen {
		c.gen, c.entries = gen, map[string][]cached{}
	}
}

// get returns the decision for rcpt that env agrees with, if any.
func (c *Cache) get(rcpt string, env *queue.Envelope) (Destination, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sync()
	now := c.now()
	for _, e := range c.entries[rcpt] {
		if now.Before(e.expires) && agrees(e.reads, &e.env, env) {
			return e.dest, true
		}
	}
	return Destination{}, false
}

// put remembers a decision.
func (c *Cache) put(rcpt string, env *queue.Envelope, reads policy.EnvFields, d Destination) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sync()
	max, ttl := c.Max, c.TTL
	if max <= 0 {
		max = DefaultCacheMax
	}
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if len(c.entries) >= max {
		c.entries = map[string][]cached{} // simple and bounded
	}
	e := cached{reads: reads, dest: d, expires: c.now().Add(ttl)}
	if env != nil {
		e.env = queue.Envelope{ID: env.ID, Sender: env.Sender, Size: env.Size, Client: env.Client,
			Tenant: env.Tenant, Attempts: env.Attempts}
		if reads&policy.ReadsMeta != 0 {
			e.env.Meta = queue.CloneMeta(env.Meta)
		}
	}
	list := append([]cached{e}, c.entries[rcpt]...)
	if len(list) > perRecipient {
		list = list[:perRecipient]
	}
	c.entries[rcpt] = list
}

// agrees reports whether env matches the cached envelope on the fields
// read.
func agrees(reads policy.EnvFields, was, env *queue.Envelope) bool {
	if env == nil {
		env = &queue.Envelope{}
	}
	return (reads&policy.ReadsSender == 0 || was.Sender == env.Sender) &&
		(reads&policy.ReadsID == 0 || was.ID == env.ID) &&
		(reads&policy.ReadsSize == 0 || was.Size == env.Size) &&
		(reads&policy.ReadsClient == 0 || was.Client == env.Client) &&
		(reads&policy.ReadsTenant == 0 || was.Tenant == env.Tenant) &&
		(reads&policy.ReadsMeta == 0 || maps.Equal(was.Meta, env.Meta)) &&
		(reads&policy.ReadsAttempts == 0 || was.Attempts == env.Attempts)
}
