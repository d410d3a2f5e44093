package bounce

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
)

// Submitter queues a composed notice (cleanup implements it).
type Submitter interface {
	Submit(ctx context.Context, env *queue.Envelope, r io.Reader) (queue.ID, error)
}

// Service implements qmgr.Notifier.
type Service struct {
	Hostname   string // Reporting-MTA
	Postmaster string // where double bounces go
	SizeLimit  int64  // bounce_size_limit; 0: dsn.DefaultSizeLimit
	// RetryFor is max_lifetime, for Will-Retry-Until in delay notices.
	RetryFor  time.Duration
	Submitter Submitter
	Now       func() time.Time
	Log       *slog.Logger
}

var kinds = map[qmgr.NoticeKind]dsn.Kind{
	qmgr.NoticeFailure: dsn.Failure, qmgr.NoticeDelay: dsn.Delay, qmgr.NoticeSuccess: dsn.Success,
}

// Notify implements qmgr.Notifier.
func (s *Service) Notify(ctx context.Context, m *queue.Message, kind qmgr.NoticeKind, idx []int) error {
	k := kinds[kind]
	to, double := dsn.BounceTarget(m.Sender, s.Postmaster)
	if to == "" {
		s.log().Warn("bounce: discarding notice about a failed double bounce", "queue_id", m.ID)
		return nil
	}
	reports := s.reports(m, k, idx)
	if len(reports) == 0 {
		return nil // NOTIFY said no
	}
	n := dsn.Notification{
		Kind: k, ReportingMTA: s.Hostname, QueueID: string(m.ID), Arrival: m.Arrival,
		// From is left to dsn's default, MAILER-DAEMON@host (Mail Delivery System).
		To: to, Double: double, EnvID: m.EnvID, Ret: m.Ret,
		Recipients: reports, Original: m.Open(), SizeLimit: s.SizeLimit, Now: s.now(), Postmaster: s.Postmaster,
	}
	body, err := dsn.Compose(n)
	if err != nil {
		return fmt.Errorf("compose notice: %w", err)
	}
	return s.submit(ctx, m, k, to, double, body)
}

func (s *Service) submit(ctx context.Context, m *queue.Message, k dsn.Kind, to string, double bool, body []byte) error {
	env := &queue.Envelope{Recipients: []queue.Recipient{{Addr: to, State: queue.Pending}},
		Client: queue.Client{Name: "localhost", Proto: "LOCAL"}}
	if double {
		env.Sender = dsn.DoubleBounceSender(s.Postmaster)
	}
	if dsn.EightBit(body) {
		env.BodyType = "8BITMIME"
	}
	id, err := s.Submitter.Submit(ctx, env, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("queue notice: %w", err)
	}
	s.log().Info(fmt.Sprintf("%s: sender %s notification: %s", m.ID, k, id), "queue_id", m.ID, "notice_id", id, "kind", k.String())
	return nil
}

// reports builds one report per recipient that NOTIFY allows.
func (s *Service) reports(m *queue.Message, k dsn.Kind, idx []int) []dsn.RcptReport {
	var out []dsn.RcptReport
	for _, i := range idx {
		r := m.Recipients[i]
		if !dsn.ShouldNotify(k, r.Notify) {
			continue
		}
		st, ok := dsn.Parse(r.Reason)
		if !ok {
			st = fallback(k)
		}
		rep := dsn.RcptReport{Final: r.Addr, ORcpt: r.ORcpt, Status: st, Action: action(k), LastAttempt: s.now()}
		rep.RemoteMTA, rep.DiagnosticCode = diagnostic(r.Relay, st)
		if k == dsn.Delay {
			rep.WillRetryUntil = m.Arrival.Add(s.RetryFor)
		}
		out = append(out, rep)
	}
	return out
}

// diagnostic returns the Remote-MTA and Diagnostic-Code of one report.
// A reply from a remote SMTP or LMTP server (relay "host[addr]:port") is
// "smtp; <reply>" from "dns; host"; an outcome of a local agent or of the
// queue itself (relay "local", "pipe", "none", or unknown) has no remote
// MTA and the private type "x-moonpost", as Postfix writes "X-Postfix".
func diagnostic(relay string, st *dsn.Status) (remoteMTA, code string) {
	host, _, remote := strings.Cut(relay, "[")
	if !remote || host == "" {
		return "", "x-moonpost; " + st.Error()
	}
	return "dns; " + host, "smtp; " + st.Error()
}

func action(k dsn.Kind) string {
	switch k {
	case dsn.Delay:
		return dsn.ActionDelayed
	case dsn.Success:
		return dsn.ActionDelivered
	}
	return dsn.ActionFailed
}

func fallback(k dsn.Kind) *dsn.Status {
	switch k {
	case dsn.Delay:
		return dsn.New(451, "4.0.0", "delivery delayed")
	case dsn.Success:
		return dsn.Sent
	}
	return dsn.New(550, "5.0.0", "delivery failed")
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
