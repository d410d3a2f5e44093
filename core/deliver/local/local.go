package local

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/deliver/internal/command"
	"github.com/moonpost/moonpost/core/deliver/internal/mailcopy"
	"github.com/moonpost/moonpost/core/dsn"
)

// relay is how local delivery names itself in results, as Postfix does.
const relay = "local"

// Agent is the local delivery agent. It is safe for concurrent use.
type Agent struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and returns an agent.
func New(cfg Config) (*Agent, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, log: cfg.Logger}, nil
}

// Deliver expands and delivers each recipient. A destination shared by
// several recipients of the request (two aliases naming one mailbox) is
// written once, like Postfix's duplicate filter.
func (a *Agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	log := a.log.With("queue_id", req.QueueID)
	ro, st := a.parseOptions(log, req.Options)
	if st == nil && ro.sizeLimit > 0 && req.Content.Size() > ro.sizeLimit {
		st = dsn.RcptTooBig
		log.Info("message too big for recipient", "size", req.Content.Size(), "size_limit", ro.sizeLimit, "status", st.Error())
	}
	if st != nil {
		return deliver.AllResults(len(req.Recipients), st, relay)
	}
	hdr := deliveredTo(req.Content)
	done := map[string]*dsn.Status{}
	res := make([]deliver.Result, len(req.Recipients))
	for i, r := range req.Recipients {
		st := a.recipient(ctx, log.With("rcpt", r.Addr), req, r, ro, hdr, done)
		res[i] = deliver.Result{Status: st, Relay: relay}
	}
	return res
}

// recipient delivers one recipient to everything it expands to.
func (a *Agent) recipient(ctx context.Context, log *slog.Logger, req *deliver.Request, r deliver.Recipient,
	ro routeOptions, hdr map[string]bool, done map[string]*dsn.Status) *dsn.Status {
	p, st := a.expand(ctx, log, r.Addr, ro, hdr)
	if st != nil {
		log.Warn("alias expansion failed", "status", st.Error())
		return st
	}
	var sts []*dsn.Status
	for _, d := range p.dests {
		st, ok := done[d.key()]
		if !ok {
			st = a.deliverDest(ctx, log, req, r, d)
			done[d.key()] = st
		}
		sts = append(sts, st)
	}
	for _, owner := range p.owners {
		sts = append(sts, a.forward(ctx, log, req, r, owner, p.forwards[owner]))
	}
	return combine(sts)
}

// deliverDest writes one copy.
func (a *Agent) deliverDest(ctx context.Context, log *slog.Logger, req *deliver.Request, r deliver.Recipient, d dest) *dsn.Status {
	if d.kind == toCommand {
		return a.runCommand(ctx, log, req, r, d)
	}
	msg := messageReader(req, d.owner.Addr)
	var err error
	if d.format == Maildir {
		err = writeMaildir(d.value, a.cfg.Hostname, msg)
	} else {
		err = appendMbox(ctx, d.value, req.Sender, msg, mboxLocking{Wait: a.cfg.LockWait, Stale: a.cfg.StaleLock})
	}
	text := map[Format]string{Maildir: "delivered to maildir", Mbox: "delivered to mailbox"}[d.format]
	if d.kind == toFile {
		text = "delivered to file: " + d.value
	}
	st := statusDelivered.WithText(text)
	if err != nil {
		st = fsStatus(err)
		log.Error("local delivery failed", "path", d.value, "err", err, "status", st.Error())
		return st
	}
	log.Info("delivered", "path", d.value, "for", d.owner.Addr, "status", st.Error())
	return st
}

// runCommand pipes the message to "/bin/sh -c COMMAND". The command text
// is the admin's, from the aliases; addresses reach it only through the
// environment, never by interpolation.
func (a *Agent) runCommand(ctx context.Context, log *slog.Logger, req *deliver.Request, r deliver.Recipient, d dest) *dsn.Status {
	env := command.Env(command.Vars{QueueID: req.QueueID, Sender: req.Sender,
		Recipient: d.owner, OriginalRecipient: original(r)})
	stdin, done := pipeMessage(req, d.owner.Addr)
	res := command.Run(ctx, command.Spec{Argv: []string{"/bin/sh", "-c", d.value}, Env: env,
		Dir: a.cfg.CommandDir, Stdin: stdin, Timeout: a.cfg.CommandTimeout})
	done()
	st := res.Status("delivered to command: " + d.value)
	log.Info("command delivery", "command", d.value, "for", d.owner.Addr, "status", st.Error(),
		"exit", res.ExitCode, "output", command.Clean(res.Output))
	return st
}

// pipeMessage streams the message with LF line endings through a pipe;
// done waits for the copier after the command has finished.
func pipeMessage(req *deliver.Request, deliveredTo string) (io.Reader, func()) {
	pr, pw := io.Pipe()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		_, err := mailcopy.Copy(pw, messageReader(req, deliveredTo), mailcopy.Options{LF: true})
		pw.CloseWithError(err)
	}()
	return pr, func() {
		pr.Close()
		<-finished
	}
}

// forward hands remote targets to the Forwarder.
func (a *Agent) forward(ctx context.Context, log *slog.Logger, req *deliver.Request, r deliver.Recipient,
	owner string, targets []string) *dsn.Status {
	if a.cfg.Forwarder == nil {
		log.Error("no forwarder configured", "for", owner, "targets", targets)
		return statusNoForwarder
	}
	fr := r
	fr.Addr = owner
	if err := a.cfg.Forwarder.Forward(ctx, req, fr, targets); err != nil {
		st := dsn.FromError(err)
		log.Error("forward failed", "for", owner, "targets", targets, "err", err, "status", st.Error())
		return st
	}
	log.Info("forwarded", "for", owner, "targets", targets)
	return statusDelivered.WithText("forwarded")
}

// combine reduces a recipient's outcomes to one: any deferral defers
// the recipient (so it is retried), else any failure fails it, else it
// was delivered; the texts of up to three successes are kept.
func combine(sts []*dsn.Status) *dsn.Status {
	if len(sts) == 0 {
		return statusConfigErr // an alias that expanded to nothing
	}
	for _, want := range []func(*dsn.Status) bool{(*dsn.Status).Temporary, (*dsn.Status).Permanent} {
		for _, st := range sts {
			if want(st) {
				return st
			}
		}
	}
	if len(sts) == 1 {
		return sts[0]
	}
	var texts []string
	for _, st := range sts[:min(3, len(sts))] {
		texts = append(texts, st.Text)
	}
	if len(sts) > 3 {
		texts = append(texts, "...")
	}
	return statusDelivered.WithText(strings.Join(texts, "; "))
}

// original is ORIGINAL_RECIPIENT: the address as it arrived, else the
// ORCPT address, else the recipient.
func original(r deliver.Recipient) string {
	if r.Original != "" {
		return r.Original
	}
	if _, a, ok := strings.Cut(r.ORcpt, ";"); ok && a != "" {
		return a
	}
	return r.Addr
}

// isLocal reports whether an address in domain is expanded here.
func (a *Agent) isLocal(domain, rcptDomain string) bool {
	if strings.EqualFold(domain, rcptDomain) {
		return true
	}
	for _, d := range a.cfg.LocalDomains {
		if strings.EqualFold(domain, d) {
			return true
		}
	}
	return false
}

var _ deliver.Agent = (*Agent)(nil)
