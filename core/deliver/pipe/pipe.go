package pipe

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/deliver/internal/addr"
	"github.com/moonpost/moonpost/core/deliver/internal/command"
	"github.com/moonpost/moonpost/core/deliver/internal/mailcopy"
	"github.com/moonpost/moonpost/core/dsn"
)

// Config is one pipe transport, like a master.cf pipe entry.
type Config struct {
	// Name is the transport name, reported as the relay ("" → "pipe").
	Name string
	// Argv is the command with ${macro}s; argv[0] is the program path.
	Argv []string
	// NexthopArgv lets a route's next hop "argv=..." replace Argv. Off by
	// default: it makes routing policy choose programs to run.
	NexthopArgv bool
	// User runs the command as this system user (the daemon must be
	// root). "" runs it as the daemon's user.
	User string
	// Dir is the command's working directory ("" → "/").
	Dir string
	// Timeout bounds one command run (0 → 1000s, Postfix's
	// command_time_limit).
	Timeout time.Duration
	// SizeLimit refuses larger messages permanently (0: no limit).
	SizeLimit int64
	// RecipientLimit is how many recipients one command run takes (0 →
	// 1: one run per recipient, Postfix's usual setting for pipes).
	RecipientLimit int
	// RecipientDelimiter separates user and extension ("" → "+").
	RecipientDelimiter string
	// NullSender is what ${sender} gives for the null sender ("" →
	// "MAILER-DAEMON", as in Postfix).
	NullSender string
	// CRLF keeps CRLF line endings on stdin instead of LF.
	CRLF bool
	// ReturnPath and DeliveredTo prepend those headers (Postfix flags R
	// and D). DeliveredTo is only added for single-recipient runs.
	ReturnPath, DeliveredTo bool
	// OutputLimit bounds captured output (0 → 512 bytes).
	OutputLimit int
	Logger      *slog.Logger // nil → slog.Default()
}

// Agent delivers by running the configured command.
type Agent struct {
	cfg  Config
	argv []template // parsed Config.Argv; nil when only next hops give one
	cred *syscall.Credential
	log  *slog.Logger
}

// New validates cfg (macros, user) and fills in defaults.
func New(cfg Config) (*Agent, error) {
	a := &Agent{cfg: cfg, log: cfg.Logger}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.cfg.Name = orDefault(cfg.Name, "pipe")
	a.cfg.Dir = orDefault(cfg.Dir, "/")
	a.cfg.RecipientDelimiter = orDefault(cfg.RecipientDelimiter, "+")
	a.cfg.NullSender = orDefault(cfg.NullSender, "MAILER-DAEMON")
	if a.cfg.Timeout <= 0 {
		a.cfg.Timeout = 1000 * time.Second
	}
	if a.cfg.RecipientLimit <= 0 {
		a.cfg.RecipientLimit = 1
	}
	if len(cfg.Argv) > 0 || !cfg.NexthopArgv {
		tpls, err := parseArgv(cfg.Argv)
		if err != nil {
			return nil, fmt.Errorf("pipe %s: %w", a.cfg.Name, err)
		}
		a.argv = tpls
	}
	if cfg.User != "" {
		cred, err := lookupUser(cfg.User)
		if err != nil {
			return nil, fmt.Errorf("pipe %s: %w", a.cfg.Name, err)
		}
		a.cred = cred
	}
	return a, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func lookupUser(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %s: non-numeric uid/gid", name)
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %s: refusing to run commands as root", name)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// Deliver runs the command once per batch of up to RecipientLimit
// recipients; each recipient gets its batch's outcome.
func (a *Agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	log := a.log.With("queue_id", req.QueueID, "transport", a.cfg.Name)
	tpls, st := a.command(req)
	if err := deliver.CheckOptions(req.Options); err != nil {
		log.Error("route refused", "err", err)
		st = dsn.ConfigError
	}
	if st == nil && a.cfg.SizeLimit > 0 && req.Content.Size() > a.cfg.SizeLimit {
		st = dsn.RcptTooBig // Postfix pipe(8) size=: 5.2.3
	}
	if st != nil {
		log.Warn("pipe delivery refused", "status", st.Error())
		return deliver.AllResults(len(req.Recipients), st, a.cfg.Name)
	}
	res := make([]deliver.Result, len(req.Recipients))
	for lo := 0; lo < len(req.Recipients); lo += a.cfg.RecipientLimit {
		hi := min(lo+a.cfg.RecipientLimit, len(req.Recipients))
		st := a.run(ctx, log, req, tpls, req.Recipients[lo:hi])
		for i := lo; i < hi; i++ {
			res[i] = deliver.Result{Status: st, Relay: a.cfg.Name}
		}
	}
	return res
}

// command picks the argv templates for req. A bad next-hop command is a
// configuration error: deferred (4.3.5) so mail waits for the fix.
func (a *Agent) command(req *deliver.Request) ([]template, *dsn.Status) {
	if !a.cfg.NexthopArgv {
		return a.argv, nil
	}
	argv, ok := splitArgv(req.Nexthop)
	if !ok {
		if a.argv == nil {
			return nil, dsn.New(451, "4.3.5", "pipe transport has no command")
		}
		return a.argv, nil
	}
	tpls, err := parseArgv(argv)
	if err != nil {
		a.log.Error("bad next-hop command", "queue_id", req.QueueID, "nexthop", req.Nexthop, "err", err)
		return nil, dsn.New(451, "4.3.5", "pipe transport configuration error")
	}
	return tpls, nil
}

// run executes the command for one batch of recipients.
func (a *Agent) run(ctx context.Context, log *slog.Logger, req *deliver.Request, tpls []template, rcpts []deliver.Recipient) *dsn.Status {
	sender := req.Sender
	if sender == "" {
		sender = a.cfg.NullSender
	}
	global := map[string]string{"sender": sender, "nexthop": req.Nexthop, "queue_id": req.QueueID}
	vars := make([]map[string]string, len(rcpts))
	for i, r := range rcpts {
		p := addr.Split(r.Addr, a.cfg.RecipientDelimiter)
		vars[i] = map[string]string{"recipient": r.Addr, "original_recipient": original(r),
			"user": p.User, "extension": p.Extension, "domain": p.Domain, "mailbox": p.Local}
	}
	argv := expand(tpls, global, vars)
	cv := command.Vars{QueueID: req.QueueID, Sender: req.Sender}
	deliveredTo := ""
	if len(rcpts) == 1 {
		cv.Recipient = addr.Split(rcpts[0].Addr, a.cfg.RecipientDelimiter)
		cv.OriginalRecipient = original(rcpts[0])
		if a.cfg.DeliveredTo {
			deliveredTo = rcpts[0].Addr
		}
	}
	stdin, done := a.stdin(req, deliveredTo)
	r := command.Run(ctx, command.Spec{Argv: argv, Env: command.Env(cv), Dir: a.cfg.Dir, Stdin: stdin,
		Timeout: a.cfg.Timeout, OutputLimit: a.cfg.OutputLimit, Credential: a.cred})
	done()
	st := r.Status("delivered via " + a.cfg.Name + " service")
	log.Info("pipe delivery", "command", argv[0], "recipients", len(rcpts), "first", rcpts[0].Addr,
		"status", st.Error(), "exit", r.ExitCode, "output", command.Clean(r.Output))
	return st
}

// stdin streams the transformed message through a pipe. done must be
// called after the command finished: it unblocks and waits for the
// copying goroutine even when the command did not read everything.
func (a *Agent) stdin(req *deliver.Request, deliveredTo string) (io.Reader, func()) {
	pr, pw := io.Pipe()
	prefix := addr.HeaderPrefix(req.Sender, deliveredTo, a.cfg.ReturnPath)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		src := io.MultiReader(strings.NewReader(prefix), req.Content.Open())
		_, err := mailcopy.Copy(pw, src, mailcopy.Options{LF: !a.cfg.CRLF})
		pw.CloseWithError(err)
	}()
	return pr, func() {
		pr.Close()
		<-finished
	}
}

// original is the address for ${original_recipient}: as it arrived,
// else the ORCPT address, else the recipient itself.
func original(r deliver.Recipient) string {
	if r.Original != "" {
		return r.Original
	}
	if _, a, ok := strings.Cut(r.ORcpt, ";"); ok && a != "" {
		return a
	}
	return r.Addr
}

var _ deliver.Agent = (*Agent)(nil)
