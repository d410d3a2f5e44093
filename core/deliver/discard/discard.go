package discard

import (
	"context"
	"log/slog"
	"strconv"
	"strings"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
)

// Agent is discard(8): every recipient is reported delivered.
type Agent struct {
	Logger *slog.Logger // nil → slog.Default()
}

// Discarded is the outcome of the discard agent.
var Discarded = &dsn.Status{Code: 250, Enhanced: dsn.Enhanced{2, 0, 0}, Text: "discarded"}

// Deliver reports Discarded for every recipient.
func (a *Agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	if res := deliver.RefuseOptions(logger(a.Logger), req); res != nil {
		return res
	}
	logger(a.Logger).Info("discarded", "queue_id", req.QueueID, "recipients", len(req.Recipients), "reason", req.Nexthop)
	return deliver.AllResults(len(req.Recipients), Discarded, "none")
}

// ErrorAgent is error(8): every recipient fails with the next hop's text.
type ErrorAgent struct {
	Logger *slog.Logger // nil → slog.Default()
}

// Disabled is the error agent's outcome when the next hop says nothing.
var Disabled = &dsn.Status{Code: 550, Enhanced: dsn.Enhanced{5, 0, 0}, Text: "mail delivery disabled"}

// Deliver fails every recipient with ErrorStatus(req.Nexthop).
func (a *ErrorAgent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	if res := deliver.RefuseOptions(logger(a.Logger), req); res != nil {
		return res
	}
	st := ErrorStatus(req.Nexthop)
	logger(a.Logger).Info("error transport", "queue_id", req.QueueID, "recipients", len(req.Recipients), "status", st.Error())
	return deliver.AllResults(len(req.Recipients), st, "none")
}

// ErrorStatus reads an error transport next hop. Accepted forms:
//
//	""                          → 550 5.0.0 mail delivery disabled
//	"Mailbox retired"           → 550 5.0.0 Mailbox retired
//	"5.1.1 Mailbox retired"     → 550 5.1.1 Mailbox retired
//	"4.2.1 Try later"           → 451 4.2.1 Try later (deferred)
//	"552 5.2.2 Mailbox full"    → as written
//
// A 2xx code or a reply code whose class disagrees with its enhanced code
// cannot turn the error transport into a success or a bounce into a
// deferral: the text is kept and the class follows the enhanced code,
// defaulting to permanent.
func ErrorStatus(nexthop string) *dsn.Status {
	text := strings.TrimSpace(nexthop)
	if text == "" {
		return Disabled
	}
	code := 0
	if first, rest, _ := strings.Cut(text, " "); len(first) == 3 {
		if n, err := strconv.Atoi(first); err == nil && n >= 400 && n <= 599 {
			code, text = n, strings.TrimSpace(rest)
		}
	}
	first, rest, _ := strings.Cut(text, " ")
	e, ok := dsn.ParseEnhanced(first)
	if !ok || e[0] == 2 {
		e = dsn.Enhanced{code / 100, 0, 0}
		if code == 0 {
			e = dsn.Enhanced{5, 0, 0}
		}
	} else {
		text = strings.TrimSpace(rest)
	}
	if code/100 != e[0] {
		code = map[int]int{4: 451, 5: 550}[e[0]]
	}
	if text == "" {
		text = Disabled.Text
	}
	return dsn.New(code, e.String(), text)
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

var (
	_ deliver.Agent = (*Agent)(nil)
	_ deliver.Agent = (*ErrorAgent)(nil)
)
