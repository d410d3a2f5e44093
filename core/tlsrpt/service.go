package tlsrpt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/queue"
)

// Submitter queues a composed message (cleanup implements it), as the
// bounce service's notices are queued.
type Submitter interface {
	Submit(ctx context.Context, env *queue.Envelope, r io.Reader) (queue.ID, error)
}

// Service sends the reports of the periods the Store counted, once each
// period has ended: one report per policy domain that publishes a
// _smtp._tls record, mailed through the queue to its mailto: rua and
// POSTed to its https: rua.
type Service struct {
	Store     *Store
	Resolver  dns.Resolver // the daemon's one resolver
	Submitter Submitter
	// HTTP posts to https: rua URIs; nil: a client with a 30s timeout
	// and the system roots.
	HTTP *http.Client
	// OrganizationName, ContactInfo and From fill the report and its
	// mail; Submitter domain is From's domain.
	OrganizationName string
	ContactInfo      string
	From             string
	// FlushEvery is how often counts are written to disk and due
	// periods looked for (default 30s).
	FlushEvery time.Duration
	// GiveUpAfter drops a period whose reports still cannot go out
	// (DNS or the queue failing) this long after it ended (default 24h).
	GiveUpAfter time.Duration
	Logger      *slog.Logger // nil: slog.Default()
}

// Run flushes and sends until ctx ends, then flushes once more.
func (s *Service) Run(ctx context.Context) {
	every := s.FlushEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := s.Store.Flush(); err != nil {
				s.log().Warn("tlsrpt: cannot store the counts", "err", err)
			}
			return
		case <-tick.C:
			s.SendDue(ctx)
			if err := s.Store.Flush(); err != nil {
				s.log().Warn("tlsrpt: cannot store the counts", "err", err)
			}
		}
	}
}

// SendDue sends the reports of every period that has ended and forgets
// the periods fully reported.
func (s *Service) SendDue(ctx context.Context) {
	s.Store.init()
	now := s.Store.Clock.Now()
	for _, p := range s.Store.due(now) {
		pending := s.sendPeriod(ctx, p, now)
		if pending && now.Before(p.End.Add(s.giveUp())) {
			continue
		}
		if pending {
			s.log().Warn("tlsrpt: giving up on the reports of a period", "start", p.Start.Format(rfc3339))
		}
		s.Store.drop(p.Start)
	}
}

func (s *Service) giveUp() time.Duration {
	if s.GiveUpAfter > 0 {
		return s.GiveUpAfter
	}
	return 24 * time.Hour
}

// sendPeriod reports each domain of p not yet reported; it says
// whether some are left for a later try.
func (s *Service) sendPeriod(ctx context.Context, p *period, now time.Time) bool {
	pending := false
	for _, d := range domains(p) {
		if p.Sent[d] {
			continue
		}
		done, err := s.sendDomain(ctx, p, d, now)
		if err != nil {
			s.log().Info("tlsrpt: report not sent", "domain", d, "err", err)
		}
		if done {
			s.Store.markSent(p.Start, d)
		} else {
			pending = true
		}
	}
	return pending
}

func domains(p *period) []string {
	set := map[string]bool{}
	for _, pc := range p.Policies {
		set[pc.Policy.Domain] = true
	}
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// sendDomain sends domain's report; done is false when it should be
// tried again (a temporary DNS or queue failure).
func (s *Service) sendDomain(ctx context.Context, p *period, domain string, now time.Time) (done bool, err error) {
	txts, err := s.Resolver.LookupTXT(ctx, "_smtp._tls."+domain)
	if dns.IsNotFound(err) {
		return true, nil // the domain takes no reports
	}
	if err != nil {
		return false, err
	}
	rua, err := ParseRecord(txts)
	if err != nil {
		return true, err
	}
	submitter := s.submitter()
	id := fmt.Sprintf("%s.%s.%s@%s", p.Start.UTC().Format("20060102T150405Z"), domain, randomHex(4), submitter)
	gz, err := gzipJSON(buildReport(p, domain, s.OrganizationName, s.ContactInfo, id))
	if err != nil {
		return true, err
	}
	for _, u := range rua.HTTPS {
		s.post(ctx, u, gz, domain)
	}
	if len(rua.Mailto) == 0 {
		return true, nil
	}
	msg := composeMessage(mailMeta{From: s.From, To: rua.Mailto, Submitter: submitter, Domain: domain,
		Start: p.Start, End: p.End.Add(-time.Second), ReportID: id, Now: now}, gz)
	env := &queue.Envelope{Sender: s.From, Client: queue.Client{Name: "localhost", Proto: "LOCAL"}}
	for _, a := range rua.Mailto {
		env.Recipients = append(env.Recipients, queue.Recipient{Addr: a, State: queue.Pending})
	}
	qid, err := s.Submitter.Submit(ctx, env, bytes.NewReader(msg))
	if err != nil {
		return false, fmt.Errorf("queue report: %w", err)
	}
	s.log().Info(fmt.Sprintf("%s: TLS report for %s to %s", qid, domain, strings.Join(rua.Mailto, ", ")),
		"queue_id", qid, "domain", domain, "report_id", id)
	return true, nil
}

// post sends the report to an https: rua (RFC 8460 §5.4); a failure is
// logged, not retried: the mailto: copy is the one kept safe.
func (s *Service) post(ctx context.Context, u string, gz []byte, domain string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(gz))
	if err != nil {
		s.log().Info("tlsrpt: bad https rua", "domain", domain, "url", u, "err", err)
		return
	}
	req.Header.Set("Content-Type", "application/tlsrpt+gzip")
	resp, err := s.client().Do(req)
	if err != nil {
		s.log().Info("tlsrpt: POST failed", "domain", domain, "url", u, "err", err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		s.log().Info("tlsrpt: POST refused", "domain", domain, "url", u, "status", resp.Status)
		return
	}
	s.log().Info("tlsrpt: report posted", "domain", domain, "url", u)
}

func (s *Service) client() *http.Client {
	if s.HTTP != nil {
		return s.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// submitter is the domain of From.
func (s *Service) submitter() string {
	_, d, _ := strings.Cut(s.From, "@")
	return strings.ToLower(d)
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
