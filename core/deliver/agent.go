package deliver

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
)

// Recipient is one recipient of a Request.
type Recipient struct {
	Addr   string // envelope recipient after rewriting
	ORcpt  string // RFC 3461 ORCPT ("rfc822;a@b"), "" when absent
	Notify string // RFC 3461 NOTIFY, "" when absent
	// Original is the recipient as it arrived, before alias expansion or
	// rewriting, for Delivered-To and DSN Original-Recipient.
	Original string
}

// Request is one delivery job.
type Request struct {
	QueueID    string
	Sender     string // "" is the null sender
	Recipients []Recipient
	// Nexthop is the destination in transport-map syntax, meaning depends
	// on the agent: "example.com" (MX lookup), "[mx.example.com]:25"
	// (no MX lookup), "unix:/path" (LMTP), a command (pipe).
	Nexthop string
	// Content reads the message: RFC 5322 with CRLF line endings, not
	// dot-stuffed. Agents may call Open several times (one per MX tried).
	Content  Content
	EnvID    string
	Ret      string
	BodyType string // "", "7BIT" or "8BITMIME"
	SMTPUTF8 bool
	Arrival  time.Time
	// Options are the route's transport options from policy (for
	// example a pipe command or a mailbox path); agents reject keys they
	// do not know.
	Options map[string]string
	// Egress is the shaping the egress policy chose for the destination
	// (mta.on("egress")); nil when none applies. The queue manager
	// enforces the limits; the agent honours the per-connection fields.
	Egress *Egress
	// Tenant is the message's tenant ("" when policy set none).
	Tenant string
}

// Egress is what the egress policy decided for one destination that a
// delivery agent acts on.
type Egress struct {
	// Site names the group of destinations that share limits (and
	// connections); "" is the destination alone.
	Site string
	// Source is a local address to send from, or the name of a source
	// or pool of sources configured for the agent; "" is any.
	Source string
	// TLS is the TLS security level for the destination (none, may,
	// encrypt, verify, secure, dane); "" leaves the agent's default.
	TLS string
	// MaxDeliveriesPerConnection bounds the transactions on one cached
	// connection (0: the agent's default).
	MaxDeliveriesPerConnection int
	// IdleTimeout is how long an unused connection stays cached (0:
	// the agent's default).
	IdleTimeout time.Duration
}

// Content gives fresh readers over the stored message.
type Content interface {
	Open() io.Reader
	Size() int64
}

// Result is the outcome for one recipient.
type Result struct {
	Status *dsn.Status // never nil: 2xx delivered, 4xx deferred, 5xx failed
	// Relay names who took or refused the mail, Postfix style:
	// "mx.example.com[192.0.2.1]:25", "local", "pipe".
	Relay string
	// Class is the bounce class of a 4xx or 5xx outcome ("mailbox_full",
	// see core/classify). An agent that knows the cause for certain
	// may set it; otherwise the queue manager classifies the status by
	// its rules.
	Class string
	// TLS says how the session that gave the outcome was protected, for
	// the delivery log line ("" when the transport has no TLS).
	TLS string
	// Generation is the script generation that chose the route, for the
	// delivery log; the queue manager sets it, agents leave it alone.
	Generation int
}

// Agent delivers mail. Deliver must return len(req.Recipients) results in
// the order of req.Recipients, must honour ctx (its deadline bounds the
// whole attempt) and must not keep references to req after returning.
// Agents are used concurrently from many goroutines.
type Agent interface {
	Deliver(ctx context.Context, req *Request) []Result
}

// AllResults returns n copies of one outcome, for agents whose attempt
// fails before any recipient is tried.
func AllResults(n int, st *dsn.Status, relay string) []Result {
	res := make([]Result, n)
	for i := range res {
		res[i] = Result{Status: st, Relay: relay}
	}
	return res
}

// LogResults records an agent's per-recipient outcomes at debug level.
// The queue manager logs every outcome in Postfix's format; this is the
// agent's own view, for tracing one transport.
func LogResults(log *slog.Logger, req *Request, res []Result) {
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	for i, r := range res {
		log.Debug("delivery", "queue_id", req.QueueID, "to", req.Recipients[i].Addr,
			"relay", r.Relay, "status", r.Status.Error())
	}
}
