package smtpd

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/rate"
)

// RateLimit is one engine rate limit on what clients send: messages
// (MAIL) or recipients (RCPT) per client address, sender, sender domain
// or authenticated user, counted in a Throttle so that with a shared
// (Redis) throttle the limit holds for all nodes together.
type RateLimit struct {
	Per   string // "client", "sender", "sender_domain" or "sasl_username"
	Count string // "messages" or "recipients"
	Rate  rate.Rate
	Local bool // count in this node only
}

// Throttle decides one event for a key against r: whether it is
// allowed, and if not how long until one would be. local keeps the count
// in this node even where the throttle is shared. An error is no
// decision. The daemon's is the scripts' core/throttle limiter.
type Throttle interface {
	Allow(ctx context.Context, key string, r rate.Rate, local bool) (ok bool, retryAfter time.Duration, err error)
}

// rateTimeout bounds one check, within the policy time of the command.
const rateTimeout = time.Second

// overRate counts one event of kind ("messages" or "recipients") against
// every limit that applies and returns the refusal for the first limit
// it exceeds: 450 4.7.1 with the time to wait, as Postfix's anvil limits
// answer, or 451 4.3.0 when the throttle cannot decide (Redis down and
// fail_closed). Clients in client_event_limit_exceptions are spared the
// per-client limits only.
func (s *session) overRate(kind string) *dsn.Status {
	cfg := s.c.cfg
	if cfg.Throttle == nil || len(cfg.RateLimits) == 0 {
		return nil
	}
	for i, r := range cfg.RateLimits {
		if r.Count != kind {
			continue
		}
		what := s.rateSubject(r.Per)
		if what == "" || r.Per == "client" && s.srv.exempt(s.c.ip) {
			continue
		}
		key := fmt.Sprintf("smtpd:%d:%s:%s:%s", i, r.Count, r.Per, strings.ToLower(what))
		ctx, cancel := context.WithTimeout(context.Background(), rateTimeout)
		allowed, retry, err := cfg.Throttle.Allow(ctx, key, r.Rate, r.Local)
		cancel()
		if err != nil {
			s.srv.log.Error("NOQUEUE: rate limit check failed for "+s.c.client(), "per", r.Per, "count", r.Count, "err", err)
			return dsn.TempPolicy
		}
		if allowed {
			continue
		}
		wait := int(math.Ceil(retry.Seconds()))
		s.srv.log.Warn(fmt.Sprintf("warning: %s rate limit exceeded for %s %s from %s", strings.TrimSuffix(r.Count, "s"), r.Per, what, s.c.client()),
			"limit", r.Rate.String(), "retry_after", wait)
		return dsn.New(450, "4.7.1", fmt.Sprintf("Error: too many %s from %s %s, try again in %d seconds", r.Count, ratePerName(r.Per), what, wait))
	}
	return nil
}

// rateSubject is what a limit of per counts against in this session;
// "" when the session has none (no user before AUTH, the null sender).
func (s *session) rateSubject(per string) string {
	switch per {
	case "client":
		return s.c.ip.String()
	case "sender":
		return s.from
	case "sender_domain":
		if i := strings.LastIndexByte(s.from, '@'); i >= 0 {
			return s.from[i+1:]
		}
	case "sasl_username":
		return s.authUser
	}
	return ""
}

func ratePerName(per string) string {
	return map[string]string{"client": "client", "sender": "sender", "sender_domain": "sender domain", "sasl_username": "user"}[per]
}
