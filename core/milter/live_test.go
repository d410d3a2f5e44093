package milter

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"
	gomilter "github.com/emersion/go-milter"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/smtpd"
)

// phaseMilter answers each SMTP phase through its functions (nil:
// continue) and counts what it saw; one per milter connection.
type phaseMilter struct {
	gomilter.NoOpMilter
	rec     *phaseLog
	connect gomilter.Response
	helo    gomilter.Response
	mail    func(from string) gomilter.Response
	rcpt    func(to string) gomilter.Response
	stall   chan struct{} // when set, RCPT waits on it
	crash   bool          // end of message fails after an edit
}

// phaseLog is what every connection of a phaseMilter server saw, in order.
type phaseLog struct {
	mu     sync.Mutex
	events []string
}

func (p *phaseLog) add(e string) {
	p.mu.Lock()
	p.events = append(p.events, e)
	p.mu.Unlock()
}

func (p *phaseLog) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.events, " ")
}

func (m *phaseMilter) Connect(host, _ string, _ uint16, _ net.IP, _ *gomilter.Modifier) (gomilter.Response, error) {
	m.rec.add("connect")
	return orContinue(m.connect), nil
}

func (m *phaseMilter) Helo(name string, _ *gomilter.Modifier) (gomilter.Response, error) {
	m.rec.add("helo:" + name)
	return orContinue(m.helo), nil
}

func (m *phaseMilter) MailFrom(from string, _ *gomilter.Modifier) (gomilter.Response, error) {
	m.rec.add("mail:" + from)
	if m.mail != nil {
		return orContinue(m.mail(from)), nil
	}
	return gomilter.RespContinue, nil
}

func (m *phaseMilter) RcptTo(to string, _ *gomilter.Modifier) (gomilter.Response, error) {
	m.rec.add("rcpt:" + to)
	if m.stall != nil {
		<-m.stall
	}
	if m.rcpt != nil {
		return orContinue(m.rcpt(to)), nil
	}
	return gomilter.RespContinue, nil
}

func (m *phaseMilter) Body(mod *gomilter.Modifier) (gomilter.Response, error) {
	m.rec.add("eom")
	mod.AddHeader("X-Live", "seen")
	if m.crash {
		return nil, errors.New("crash")
	}
	return gomilter.RespAccept, nil
}

func (m *phaseMilter) Abort(*gomilter.Modifier) error {
	m.rec.add("abort")
	return nil
}

// servePhases serves a phaseMilter made by mk per connection.
func servePhases(t *testing.T, mk func() *phaseMilter) (string, *phaseLog) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &phaseLog{}
	srv := &gomilter.Server{NewMilter: func() gomilter.Milter { m := mk(); m.rec = rec; return m }, Actions: v2Actions}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "inet:" + ln.Addr().String(), rec
}

// liveMilters is smtpd's view of a Filter, as the daemon wires it.
type liveMilters struct{ f *Filter }

func (m liveMilters) Open(c queue.Client, port uint16) smtpd.MilterConn {
	if lc := m.f.Open(c, port); lc != nil {
		return lc
	}
	return nil
}

// liveServer is smtpd and cleanup over a fresh queue with the milters
// in front, as in the daemon.
type liveServer struct {
	addr  string
	clean *cleanup.Cleanup
	f     *Filter
	logs  *lockedBuffer
}

func startLive(t *testing.T, cfgs ...Config) *liveServer {
	t.Helper()
	clean, f := setup(t, cfgs...)
	logs := &lockedBuffer{}
	f.Log = slog.New(slog.NewTextHandler(logs, nil))
	local, _ := smtpd.NewDomainSet("example.com")
	srv, err := smtpd.New(smtpd.Config{
		Hostname: "mx.example.com", Listeners: []smtpd.Listener{{Name: "smtp", Addr: "127.0.0.1:0"}},
		LocalDomains: local, Submitter: clean, Milters: liveMilters{f}, ErrorSleepTime: -1,
		IdleTimeout: 20 * time.Second, Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return &liveServer{addr: srv.Addrs()[0].String(), clean: clean, f: f, logs: logs}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// smtpClient is a raw SMTP dialogue: each call returns the whole last
// reply line.
type smtpClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialSMTP(t *testing.T, addr string) (*smtpClient, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &smtpClient{t: t, c: c, br: bufio.NewReader(c)}
	return s, s.reply()
}

func (s *smtpClient) reply() string {
	s.t.Helper()
	s.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for i := 0; i < 100; i++ {
		line, err := s.br.ReadString('\n')
		if err != nil {
			return "EOF"
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 || line[3] != '-' {
			return line
		}
	}
	s.t.Fatal("endless reply")
	return ""
}

func (s *smtpClient) cmd(line string) string {
	s.t.Helper()
	if _, err := s.c.Write([]byte(line + "\r\n")); err != nil {
		return "EOF"
	}
	return s.reply()
}

// want sends line and checks that the reply starts with prefix.
func (s *smtpClient) want(line, prefix string) string {
	s.t.Helper()
	r := s.cmd(line)
	if !strings.HasPrefix(r, prefix) {
		s.t.Fatalf("%s: reply %q, want %q", line, r, prefix)
	}
	return r
}

const liveMessage = "Subject: live\r\nFrom: alice@example.org\r\n\r\nhello\r\n."

// TestLiveRcptReject: a milter's refusal of one RCPT, with its custom
// reply, answers that RCPT; the message goes to the other recipient and
// carries the milter's edit; the milter saw one connection, every phase
// live, and a second message on the same connection.
func TestLiveRcptReject(t *testing.T) {
	addr, rec := servePhases(t, func() *phaseMilter {
		return &phaseMilter{rcpt: func(to string) gomilter.Response {
			if strings.HasPrefix(to, "nobody@") {
				return gomilter.NewResponseStr('y', "550 5.1.1 No such user here")
			}
			return nil
		}}
	})
	ls := startLive(t, Config{Address: addr})
	c, banner := dialSMTP(t, ls.addr)
	if !strings.HasPrefix(banner, "220 ") {
		t.Fatalf("banner %q", banner)
	}
	c.want("EHLO client.example.org", "250 ")
	c.want("MAIL FROM:<alice@example.org>", "250 ")
	c.want("RCPT TO:<nobody@example.com>", "550 5.1.1 No such user here")
	c.want("RCPT TO:<bob@example.com>", "250 ")
	c.want("DATA", "354 ")
	id := strings.TrimPrefix(c.want(liveMessage, "250 "), "250 2.0.0 Ok: queued as ")
	c.want("MAIL FROM:<carol@example.org>", "250 ")
	c.want("RCPT TO:<bob@example.com>", "250 ")
	c.want("DATA", "354 ")
	c.want(liveMessage, "250 ")
	c.want("QUIT", "221 ")

	env, content := stored(t, ls.clean, queue.Incoming, queue.ID(id))
	if len(env.Recipients) != 1 || env.Recipients[0].Addr != "bob@example.com" {
		t.Errorf("recipients %+v", env.Recipients)
	}
	if !strings.Contains(content, "X-Live: seen\r\n") {
		t.Errorf("the milter's edit is missing:\n%s", content)
	}
	want := "connect helo:client.example.org mail:alice@example.org rcpt:nobody@example.com rcpt:bob@example.com eom " +
		"mail:carol@example.org rcpt:bob@example.com eom"
	if got := waitEvents(rec, want); got != want {
		t.Errorf("milter saw\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(ls.logs.String(), "NOQUEUE: milter-reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 No such user here; milter=test from=<alice@example.org> to=<nobody@example.com>") {
		t.Errorf("no milter-reject log line:\n%s", ls.logs)
	}
}

// waitEvents waits (bounded) for the milter's log to read want; the
// milter's last events may reach it after the SMTP reply.
func waitEvents(rec *phaseLog, want string) string {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !strings.HasPrefix(rec.String(), want) {
		time.Sleep(10 * time.Millisecond)
	}
	return rec.String()
}

// TestLiveConnect: the answers at connect, as Postfix gives them: a
// reject makes the banner 554 and answers MAIL; a tempfail keeps the 220
// and answers MAIL 451; a 421 reply is the banner and the end.
func TestLiveConnect(t *testing.T) {
	for _, tc := range []struct {
		name         string
		resp         gomilter.Response
		banner, mail string
	}{
		{"reject", gomilter.RespReject, "554 mx.example.com ESMTP not accepting connections", "550 5.7.1 Command rejected"},
		{"tempfail", gomilter.RespTempFail, "220 ", "451 4.7.1 Service unavailable - try again later"},
		{"custom", gomilter.NewResponseStr('y', "550 5.7.1 Go away"), "554 mx.example.com ESMTP", "550 5.7.1 Go away"},
		{"421", gomilter.NewResponseStr('y', "421 4.7.0 Closing"), "421 mx.example.com Service unavailable - try again later", "EOF"},
		{"accept", gomilter.RespAccept, "220 ", "250 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, rec := servePhases(t, func() *phaseMilter { return &phaseMilter{connect: tc.resp} })
			ls := startLive(t, Config{Address: addr})
			c, banner := dialSMTP(t, ls.addr)
			if !strings.HasPrefix(banner, tc.banner) {
				t.Fatalf("banner %q, want %q", banner, tc.banner)
			}
			if tc.mail == "EOF" {
				if r := c.cmd("EHLO client.example.org"); r != "EOF" {
					t.Errorf("after the 421 banner: %q", r)
				}
				return
			}
			c.want("EHLO client.example.org", "250 ")
			c.want("MAIL FROM:<alice@example.org>", tc.mail)
			if tc.name == "accept" {
				c.want("RCPT TO:<bob@example.com>", "250 ")
				c.want("DATA", "354 ")
				c.want(liveMessage, "250 ")
				c.want("QUIT", "221 ")
				if got := waitEvents(rec, "connect"); got != "connect" {
					t.Errorf("accepted at connect, the milter still saw %q", got)
				}
			}
		})
	}
}

// TestLiveMailReject: a refusal at MAIL answers MAIL and aborts; the next
// transaction on the connection goes through the milter again.
func TestLiveMailReject(t *testing.T) {
	addr, rec := servePhases(t, func() *phaseMilter {
		return &phaseMilter{mail: func(from string) gomilter.Response {
			if strings.Contains(from, "spammer") {
				return gomilter.RespTempFail
			}
			return nil
		}}
	})
	ls := startLive(t, Config{Address: addr})
	c, _ := dialSMTP(t, ls.addr)
	c.want("EHLO client.example.org", "250 ")
	c.want("MAIL FROM:<spammer@example.net>", "451 4.7.1 Service unavailable - try again later")
	c.want("MAIL FROM:<alice@example.org>", "250 ")
	c.want("RCPT TO:<bob@example.com>", "250 ")
	c.want("RSET", "250 ")
	c.want("QUIT", "221 ")
	// A refusal at MAIL aborts the transaction, as Postfix's mail_reset does.
	want := "connect helo:client.example.org mail:spammer@example.net abort mail:alice@example.org rcpt:bob@example.com abort"
	if got := waitEvents(rec, want); !strings.HasPrefix(got, want) {
		t.Errorf("milter saw\n%s\nwant\n%s", got, want)
	}
}

// TestLiveDefaultAction: a milter that is down, or slow at RCPT, gets its
// default_action at that phase, in bounded time.
func TestLiveDefaultAction(t *testing.T) {
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	slow, _ := servePhases(t, func() *phaseMilter { return &phaseMilter{stall: stall} })
	for _, tc := range []struct {
		name, addr   string
		def          DefaultAction
		banner, mail string
		rcpt         string
	}{
		{"down/tempfail", closedAddr(t), Tempfail, "220 ", "451 4.7.1 Service unavailable - try again later", ""},
		{"down/reject", closedAddr(t), Reject, "554 ", "550 5.7.1 Command rejected", ""},
		{"down/accept", closedAddr(t), Accept, "220 ", "250 ", "250 "},
		{"slow/tempfail", slow, Tempfail, "220 ", "250 ", "451 4.7.1 Service unavailable - try again later"},
		{"slow/accept", slow, Accept, "220 ", "250 ", "250 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := startLive(t, Config{Address: tc.addr, DefaultAction: tc.def, ConnectTimeout: time.Second,
				CommandTimeout: 500 * time.Millisecond})
			start := time.Now()
			c, banner := dialSMTP(t, ls.addr)
			if !strings.HasPrefix(banner, tc.banner) {
				t.Fatalf("banner %q, want %q", banner, tc.banner)
			}
			c.want("EHLO client.example.org", "250 ")
			c.want("MAIL FROM:<alice@example.org>", tc.mail)
			if tc.rcpt != "" {
				c.want("RCPT TO:<bob@example.com>", tc.rcpt)
			}
			if tc.rcpt == "250 " {
				c.want("DATA", "354 ")
				id := strings.TrimPrefix(c.want(liveMessage, "250 "), "250 2.0.0 Ok: queued as ")
				if _, content := stored(t, ls.clean, queue.Incoming, queue.ID(id)); strings.Contains(content, "X-Live") {
					t.Errorf("a failed milter's edit was applied:\n%s", content)
				}
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

// overrideJudge turns every refusal at RCPT into an accept, and a
// discard at MAIL into a hold.
type overrideJudge struct{}

func (overrideJudge) Judge(_ context.Context, r *Result, env *queue.Envelope, _ *textproto.Header) error {
	if r.Phase == "rcpt" && r.Action == "reject" {
		r.Action, r.Status = "accept", nil
		r.Edits = append(r.Edits, AddHeader("X-Judged", r.Rcpt))
	}
	return nil
}

// TestLiveJudge: the Judge sees an RCPT refusal with its recipient and
// may accept it; the field it adds is in the queued message.
func TestLiveJudge(t *testing.T) {
	addr, _ := servePhases(t, func() *phaseMilter {
		return &phaseMilter{rcpt: func(string) gomilter.Response { return gomilter.RespReject }}
	})
	ls := startLive(t, Config{Address: addr})
	ls.f.Judge = overrideJudge{}
	c, _ := dialSMTP(t, ls.addr)
	c.want("EHLO client.example.org", "250 ")
	c.want("MAIL FROM:<alice@example.org>", "250 ")
	c.want("RCPT TO:<bob@example.com>", "250 ")
	c.want("DATA", "354 ")
	id := strings.TrimPrefix(c.want(liveMessage, "250 "), "250 2.0.0 Ok: queued as ")
	_, content := stored(t, ls.clean, queue.Incoming, queue.ID(id))
	if !strings.Contains(content, "X-Judged: bob@example.com\r\n") || !strings.Contains(content, "X-Live: seen\r\n") {
		t.Errorf("queued:\n%s", content)
	}
}

// TestLiveDiscard: a discard at RCPT accepts the message and drops it.
func TestLiveDiscard(t *testing.T) {
	addr, rec := servePhases(t, func() *phaseMilter {
		return &phaseMilter{rcpt: func(string) gomilter.Response { return gomilter.RespDiscard }}
	})
	ls := startLive(t, Config{Address: addr})
	c, _ := dialSMTP(t, ls.addr)
	c.want("EHLO client.example.org", "250 ")
	c.want("MAIL FROM:<alice@example.org>", "250 ")
	c.want("RCPT TO:<bob@example.com>", "250 ")
	c.want("DATA", "354 ")
	c.want(liveMessage, "250 ")
	c.want("QUIT", "221 ")
	if n := count(t, ls.clean, queue.Incoming); n != 0 {
		t.Errorf("%d queued after a discard", n)
	}
	if got := rec.String(); strings.Contains(got, "eom") {
		t.Errorf("the milter saw the content of a discarded message: %s", got)
	}
}

// v6Milter speaks protocol version 6 by hand, below go-milter (whose
// server is version 2 and never sees DATA): it continues every event
// and answers DATA with dataReply, counting the DATA events.
func v6Milter(t *testing.T, dataReply string) (string, *phaseLog) {
	rec := &phaseLog{}
	addr := rawServer(t, func(c net.Conn, _ <-chan struct{}) {
		for {
			code, _, err := readPacket(c)
			if err != nil {
				return
			}
			rec.add(string(code))
			switch code {
			case 'O':
				writeRaw(c, 'O', []byte{0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0})
			case 'T':
				writeRaw(c, 'y', append([]byte(dataReply), 0))
			case 'E':
				writeRaw(c, 'a', nil)
			case 'D', 'A':
			case 'Q':
				return
			default:
				writeRaw(c, 'c', nil)
			}
		}
	})
	return addr, rec
}

func writeRaw(c net.Conn, code byte, data []byte) {
	n := len(data) + 1
	c.Write(append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), code}, data...))
}

// TestLiveData: a version 6 milter is told DATA before the 354, and its
// refusal answers DATA itself; the transaction can be reset and retried.
func TestLiveData(t *testing.T) {
	addr, rec := v6Milter(t, "554 5.7.1 No DATA from you")
	ls := startLive(t, Config{Address: addr})
	c, _ := dialSMTP(t, ls.addr)
	c.want("EHLO client.example.org", "250 ")
	c.want("MAIL FROM:<alice@example.org>", "250 ")
	c.want("RCPT TO:<bob@example.com>", "250 ")
	c.want("DATA", "554 5.7.1 No DATA from you")
	c.want("RSET", "250 ")
	c.want("QUIT", "221 ")
	if n := count(t, ls.clean, queue.Incoming); n != 0 {
		t.Errorf("%d queued", n)
	}
	if got := waitEvents(rec, "O C H M R T"); !strings.HasPrefix(strings.ReplaceAll(got, "D ", ""), "O C H M R T") {
		t.Errorf("milter saw %q", got)
	}
}

// TestLiveHelo: a refusal at HELO is kept for MAIL (HELO itself gets
// 250, as in Postfix and Sendmail); a 421 answers HELO and ends the
// session.
func TestLiveHelo(t *testing.T) {
	for _, tc := range []struct {
		name       string
		resp       gomilter.Response
		helo, mail string
	}{
		{"reject", gomilter.NewResponseStr('y', "550 5.7.1 Bad HELO"), "250 ", "550 5.7.1 Bad HELO"},
		{"421", gomilter.NewResponseStr('y', "421 4.7.0 Not now"), "421 4.7.0 Not now", "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := servePhases(t, func() *phaseMilter { return &phaseMilter{helo: tc.resp} })
			ls := startLive(t, Config{Address: addr})
			c, _ := dialSMTP(t, ls.addr)
			c.want("EHLO client.example.org", tc.helo)
			if r := c.cmd("MAIL FROM:<alice@example.org>"); !strings.HasPrefix(r, tc.mail) {
				t.Errorf("MAIL: %q, want %q", r, tc.mail)
			}
		})
	}
}

// TestLiveBDAT: over CHUNKING the content phase runs as for DATA.
func TestLiveBDAT(t *testing.T) {
	addr, rec := servePhases(t, func() *phaseMilter { return &phaseMilter{} })
	ls := startLive(t, Config{Address: addr})
	c, _ := dialSMTP(t, ls.addr)
	c.want("EHLO client.example.org", "250 ")
	c.want("MAIL FROM:<alice@example.org>", "250 ")
	c.want("RCPT TO:<bob@example.com>", "250 ")
	msg := "Subject: chunked\r\n\r\nin one chunk\r\n"
	c.c.Write([]byte(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg), msg)))
	r := c.reply()
	if !strings.HasPrefix(r, "250 2.0.0 Ok: queued as ") {
		t.Fatalf("BDAT: %q", r)
	}
	c.want("QUIT", "221 ")
	_, content := stored(t, ls.clean, queue.Incoming, queue.ID(strings.TrimPrefix(r, "250 2.0.0 Ok: queued as ")))
	if !strings.Contains(content, "X-Live: seen\r\n") {
		t.Errorf("queued:\n%s", content)
	}
	// (go-milter's client sends an abort before its quit at the end.)
	if want, got := "connect helo:client.example.org mail:alice@example.org rcpt:bob@example.com eom",
		waitEvents(rec, "connect helo:client.example.org mail:alice@example.org rcpt:bob@example.com eom"); !strings.HasPrefix(got, want) {
		t.Errorf("milter saw %q", got)
	}
}

// TestLiveCrash: a milter that dies at end of message gets its default
// action there, nothing half-filtered is queued, and a tempfail then
// answers each later MAIL of the connection.
func TestLiveCrash(t *testing.T) {
	addr, _ := servePhases(t, func() *phaseMilter { return &phaseMilter{crash: true} })
	for _, tc := range []struct {
		def       DefaultAction
		eod, mail string
	}{
		{Tempfail, "451 4.7.1 Service unavailable - try again later", "451 4.7.1 "},
		{Accept, "250 ", "250 "},
	} {
		t.Run(tc.def.String(), func(t *testing.T) {
			ls := startLive(t, Config{Address: addr, DefaultAction: tc.def})
			c, _ := dialSMTP(t, ls.addr)
			c.want("EHLO client.example.org", "250 ")
			c.want("MAIL FROM:<alice@example.org>", "250 ")
			c.want("RCPT TO:<bob@example.com>", "250 ")
			c.want("DATA", "354 ")
			r := c.want(liveMessage, tc.eod)
			c.want("MAIL FROM:<alice@example.org>", tc.mail)
			if tc.def != Accept {
				if n := count(t, ls.clean, queue.Incoming); n != 0 {
					t.Errorf("%d queued", n)
				}
				return
			}
			_, content := stored(t, ls.clean, queue.Incoming, queue.ID(strings.TrimPrefix(r, "250 2.0.0 Ok: queued as ")))
			if strings.Contains(content, "X-Live") {
				t.Errorf("queued half-filtered:\n%s", content)
			}
		})
	}
}
