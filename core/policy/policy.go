package policy

import (
	"context"
	"net/netip"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/queue"
)

// Session is what SMTP-phase policy knows about a connection. It is a
// snapshot: changing it changes nothing in the session.
type Session struct {
	ID         string     // session ID for logs
	Listener   string     // listener name: "smtp" or "submission"
	ClientAddr netip.Addr // remote IP; invalid for local submissions
	ClientName string     // reverse DNS name or "unknown"
	Helo       string
	TLS        bool
	AuthUser   string // "" when not authenticated
	Trusted    bool   // client is in mynetworks
	Sender     string // MAIL FROM, once given
	// Size is the SIZE= the client declared in MAIL FROM (RFC 1870), 0
	// when it declared none: the only size known before DATA, so per-
	// recipient limits can refuse at RCPT instead of bouncing later.
	Size       int64
	Recipients []string
	// Meta is the exception to "a snapshot": the connection's metadata,
	// shared by every Session of the connection, which a policy may
	// change (Lua s:set_meta, bounded by queue.CheckMeta). Each message
	// the connection queues starts with a copy of it (Envelope.Meta).
	// Nil where no connection keeps it.
	Meta map[string]string
	// Tenant is shared the same way: the connection's tenant (Lua
	// s:set_tenant, checked by queue.CheckTenant; "" for none), which
	// each message the connection queues starts with (Envelope.Tenant).
	// Nil where no connection keeps it.
	Tenant *string
	// Generation is set by a policy that answered from scripts: the
	// generation that decided, for the reject log line (0: none).
	Generation int
}

// SMTP decides at each SMTP phase. A nil Status accepts; a 4xx or 5xx
// Status is sent to the client as the reply to that command.
type SMTP interface {
	Connect(ctx context.Context, s *Session) (*dsn.Status, error)
	Helo(ctx context.Context, s *Session, helo string) (*dsn.Status, error)
	Mail(ctx context.Context, s *Session, from string) (*dsn.Status, error)
	Rcpt(ctx context.Context, s *Session, to string) (*dsn.Status, error)
	// Data runs once the message is received, its milters have run and
	// its authentication is checked, before the cleanup policy; header
	// is the message header as cleanup holds it, auth the inbound
	// results (nil when the message was not checked).
	Data(ctx context.Context, s *Session, header *textproto.Header, auth *AuthResults) (*dsn.Status, error)
}

// DataCheck is the DATA policy of one SMTP transaction, handed to
// cleanup to run at that point; a non-nil Status refuses the message,
// and is the reply to DATA.
type DataCheck func(ctx context.Context, header *textproto.Header, auth *AuthResults) *dsn.Status

// Selective is implemented by a policy that can tell which events it
// has handlers for ("connect", "helo", "mail", "rcpt", "data"); callers
// skip preparing an event's arguments, such as the DATA check handed
// to cleanup, when it has none. The answer may change
// at any time (scripts reload), so callers ask each time.
type Selective interface {
	Handles(event string) bool
}

// Authenticator checks SASL PLAIN/LOGIN credentials on submission.
type Authenticator interface {
	Authenticate(ctx context.Context, user, pass string) (bool, error)
}

// Action is the cleanup verdict.
type Action int

const (
	Accept  Action = iota // queue the (possibly changed) message
	Reject                // refuse with Verdict.Status
	Hold                  // queue it into hold/ with Verdict.Reason
	Discard               // say 250, queue nothing
)

// Verdict is what cleanup policy decided about a message.
type Verdict struct {
	Action Action
	Status *dsn.Status // for Reject
	Reason string      // for Hold and Discard, logged
	// Generation is the script generation that decided (0: none), for
	// the log line.
	Generation int
}

// Message is the message as cleanup policy sees and changes it. Only the
// header is available; the body streams past cleanup to disk.
type Message struct {
	Envelope *queue.Envelope   // Sender and Recipients may be changed
	Header   *textproto.Header // may be changed
	// Auth holds the inbound authentication results (nil: not checked).
	Auth *AuthResults
	// DKIM, when the policy set it, replaces the default signing choice.
	DKIM *DKIMChoice
}

// Cleanup applies content rules (header checks, hold, discard, reject).
type Cleanup interface {
	Cleanup(ctx context.Context, m *Message) (Verdict, error)
}

// AddrContext says where an address being rewritten stands.
type AddrContext struct {
	Role   string // "sender" or "recipient"
	Where  string // "envelope" or "header"
	Header string // header field name when Where is "header" ("From", "To", ...)
}

// Rewriter rewrites one address (canonical maps, masquerading, appending
// the origin domain). Returning the address unchanged is the default.
type Rewriter interface {
	Rewrite(ctx context.Context, addr string, ac AddrContext) (string, error)
}

// Aliases expands the local part of a local recipient. found=false means
// "no alias; deliver to the mailbox". Targets are addresses, "|command",
// "/file" or ":include:/path" entries as in aliases(5).
type Aliases interface {
	ExpandAlias(ctx context.Context, local, domain string) (targets []string, found bool, err error)
}

// Route is a transport decision for one recipient.
type Route struct {
	Transport string // "smtp", "lmtp", "local", "pipe", "discard", "error", "relay"
	Nexthop   string // transport-specific, see deliver.Request.Nexthop
	// Options are transport options from the policy (e.g. local's
	// "mailbox" and "size_limit"); the agent defers a route carrying
	// one it does not know (deliver.CheckOptions).
	Options map[string]string
	// Reads lists the envelope fields the decision looked at, besides
	// the recipient, so that it can be cached for other messages that
	// agree on them (resolve.Cache). A router that cannot tell sets
	// ReadsAll.
	Reads EnvFields
	// Generation is the script generation that made the decision, or
	// declined it (0: no scripts), for the delivery log.
	Generation int
}

// EnvFields is a set of envelope fields a routing decision read.
type EnvFields uint8

const (
	ReadsSender EnvFields = 1 << iota
	// ReadsID: the decision is the message's own. Reading anything only
	// this message has (its recipients, its header, its arrival) counts
	// as reading its ID.
	ReadsID
	ReadsSize
	ReadsClient
	ReadsTenant
	ReadsMeta     // Envelope.Meta, compared as a whole
	ReadsAttempts // Envelope.Attempts, which grows with each deferral
	ReadsAll      = ReadsSender | ReadsID | ReadsSize | ReadsClient | ReadsTenant | ReadsMeta | ReadsAttempts
)

// Router picks the transport and next hop for a recipient. The message
// header is not in env: a caller that has it attaches it to ctx with
// WithHeader, and a Router that needs it reads it with HeaderOf.
type Router interface {
	Route(ctx context.Context, rcpt string, env *queue.Envelope) (Route, error)
}

// Event reports a delivery outcome for one recipient.
type Event struct {
	QueueID   string
	Sender    string
	Recipient string
	Status    *dsn.Status
	Relay     string
	Class     string // bounce class of a deferral or bounce (core/classify); "" when delivered
	Attempts  int
	Meta      map[string]string // the message's Envelope.Meta; read-only
	Tenant    string            // the message's Envelope.Tenant ("" for none)
}

// Events receives delivery outcomes for accounting or webhooks. They are
// called after the outcome is recorded and cannot change it.
type Events interface {
	Delivered(ctx context.Context, ev Event)
	Deferred(ctx context.Context, ev Event)
	Bounced(ctx context.Context, ev Event)
}
