package smtp

import (
	"context"
	"strings"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
)

// walk is one delivery attempt's progress over the servers of a next
// hop, as Postfix's smtp client moves through its MX list: a recipient
// a server deferred (4xx to MAIL, RCPT, DATA or the final dot) goes on
// to the next server in the same attempt, up to MXSessionLimit
// sessions and MaxAddresses addresses; a 2xx or 5xx is final at the
// first server that says it.
type walk struct {
	req *deliver.Request
	src *Source          // the source address sessions are opened from (nil: any)
	res []deliver.Result // by recipient; nil Status: no server decided yet
	// pending lists the recipients still to place: never answered, or
	// deferred by a server so that another one may take them.
	pending  []int
	tried    map[string]bool // dialled addresses, each tried once
	tries    int             // addresses dialled
	sessions int             // sessions that reached the transaction
	last     attempt         // the last failure to set up a session
}

// attempt records the last failure over hosts, for the recipients no
// server answered.
type attempt struct {
	st    *dsn.Status
	relay string
	tls   string // the TLS outcome of the failure ("" when not a session's)
	temp  bool   // some failure on the way was temporary
}

func (a *Agent) newWalk(req *deliver.Request, src *Source) *walk {
	w := &walk{req: req, src: src, res: make([]deliver.Result, len(req.Recipients)),
		tried: map[string]bool{}, last: attempt{st: dsn.ConnectFailed, relay: "none"}}
	for i, r := range req.Recipients {
		switch {
		case badAddr(req.Sender):
			w.res[i] = deliver.Result{Status: badSender, Relay: "none"}
		case badAddr(r.Addr):
			w.res[i] = deliver.Result{Status: badRecipient, Relay: "none"}
		default:
			w.pending = append(w.pending, i)
		}
	}
	return w
}

// Addresses that cannot go on the wire: a CR, LF or NUL would end the
// command early and let the rest be read as another command. smtpd
// never accepts one; a script's rewrite or new recipient might make one.
var (
	badSender    = dsn.New(553, "5.1.7", "sender address cannot be sent: control character in it")
	badRecipient = dsn.New(553, "5.1.3", "recipient address cannot be sent: control character in it")
)

func badAddr(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }

func (w *walk) fail(st *dsn.Status, relay string) {
	w.last.st, w.last.relay, w.last.tls = st, relay, ""
	w.last.temp = w.last.temp || st.Temporary()
}

// next is a transaction for the pending recipients.
func (w *walk) next() *tx {
	if len(w.pending) == len(w.req.Recipients) {
		return newTx(w.req)
	}
	sub := *w.req
	sub.Recipients = make([]deliver.Recipient, len(w.pending))
	for j, i := range w.pending {
		sub.Recipients[j] = w.req.Recipients[i]
	}
	return newTx(&sub)
}

// record takes a finished transaction's results. Deferrals stay pending
// for the next server, except those whose reply after the final dot
// was lost.
func (w *walk) record(t *tx, s *session) {
	w.tried[s.addr] = true
	var still []int
	for j, i := range w.pending {
		w.res[i] = t.res[j]
		w.res[i].TLS = s.tlsInfo
		if t.res[j].Status.Temporary() && !t.unsure[j] {
			still = append(still, i)
		}
	}
	w.pending = still
}

// done reports whether the attempt is over: every recipient placed, a
// limit spent, or the context ended.
func (w *walk) done(cfg Config, ctx context.Context) bool {
	return len(w.pending) == 0 || ctx.Err() != nil ||
		w.tries >= cfg.MaxAddresses || (cfg.MXSessionLimit > 0 && w.sessions >= cfg.MXSessionLimit)
}

// final gives every recipient its outcome: a server's answer where one
// came, else the last failure to reach one, except that a permanent DNS
// answer for one MX host does not bounce mail that another host only
// deferred.
func (w *walk) final() []deliver.Result {
	st := w.last.st
	if w.last.temp && st.Permanent() && w.last.relay == "none" {
		st = dsn.DNSTemp
	}
	for i := range w.res {
		if w.res[i].Status == nil {
			w.res[i] = deliver.Result{Status: st, Relay: w.last.relay, TLS: w.last.tls}
		}
	}
	return w.res
}
