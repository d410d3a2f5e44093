package milter

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/queue"
)

// TestMilterEdits: every edit a milter can make is in the queue file.
func TestMilterEdits(t *testing.T) {
	srv := serve(t, func() *fakeMilter {
		return &fakeMilter{eom: func(m *gomilter.Modifier) (gomilter.Response, error) {
			m.AddHeader("X-Spam", "Yes")
			m.InsertHeader(0, "X-Top", "first")
			m.ChangeHeader(1, "Subject", "[SPAM] hello")
			m.ChangeHeader(2, "X-Old", "")
			m.ReplaceBody([]byte("new body\nsecond line\n"))
			m.AddRecipient("<carol@example.com>")
			m.DeleteRecipient("<dave@example.com>")
			m.ChangeFrom("<bounces@example.org>")
			return gomilter.RespAccept, nil
		}}
	})
	c, _ := setup(t, Config{Address: srv.addr})
	id, err := submit(t, c, smtpEnv("bob@example.com", "dave@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	env, content := stored(t, c, queue.Incoming, id)
	for _, want := range []string{"X-Top: first\r\nReceived: from client\r\nSubject: [SPAM] hello\r\n",
		"X-Old: one\r\n", "X-Spam: Yes\r\n", "\r\n\r\nnew body\r\nsecond line\r\n"} {
		if !strings.Contains(content, want) {
			t.Errorf("missing %q in\n%s", want, content)
		}
	}
	for _, gone := range []string{"X-Old: two", "body line"} {
		if strings.Contains(content, gone) {
			t.Errorf("%q still in\n%s", gone, content)
		}
	}
	var rcpts []string
	for _, r := range env.Recipients {
		rcpts = append(rcpts, r.Addr)
	}
	if strings.Join(rcpts, ",") != "bob@example.com,carol@example.com" || env.Sender != "bounces@example.org" {
		t.Errorf("envelope: from=%q rcpts=%v", env.Sender, rcpts)
	}
	seen, macros, _ := srv.last()
	if seen.headers.Get("Subject") != "hello" || seen.body.String() != "body line\r\n" {
		t.Errorf("milter saw subject %q body %q", seen.headers.Get("Subject"), seen.body.String())
	}
	if macros["i"] != string(id) || seen.connMacros["j"] != "mx.example.com" || seen.connMacros["{client_addr}"] != "192.0.2.7" {
		t.Errorf("macros = %v at end, %v at connect", macros, seen.connMacros)
	}
}

// TestMilterVerdicts: each verdict, at end of message and earlier.
func TestMilterVerdicts(t *testing.T) {
	eom := func(r gomilter.Response) func(*gomilter.Modifier) (gomilter.Response, error) {
		return func(*gomilter.Modifier) (gomilter.Response, error) { return r, nil }
	}
	for _, tc := range []struct {
		name  string
		m     fakeMilter
		want  string // the Submit error, "" for none
		state queue.State
	}{
		{"accept", fakeMilter{}, "", queue.Incoming},
		{"accept-at-connect", fakeMilter{connect: gomilter.RespAccept, eom: eom(gomilter.RespReject)}, "", queue.Incoming},
		{"reject", fakeMilter{eom: eom(gomilter.RespReject)}, "550 5.7.1 Command rejected", ""},
		{"tempfail", fakeMilter{eom: eom(gomilter.RespTempFail)}, "451 4.7.1 Service unavailable - try again later", ""},
		{"reply", fakeMilter{eom: eom(gomilter.NewResponseStr('y', "554 5.7.1 Spam message rejected"))}, "554 5.7.1 Spam message rejected", ""},
		{"reply-4xx", fakeMilter{eom: eom(gomilter.NewResponseStr('y', "452 4.2.2 Over quota"))}, "452 4.2.2 Over quota", ""},
		{"reject-at-rcpt", fakeMilter{rcpt: gomilter.RespReject}, "550 5.7.1 Command rejected", ""},
		{"tempfail-at-header", fakeMilter{header: gomilter.RespTempFail}, "451 4.7.1 Service unavailable - try again later", ""},
		{"discard", fakeMilter{eom: eom(gomilter.RespDiscard)}, "", ""},
		{"quarantine", fakeMilter{eom: func(m *gomilter.Modifier) (gomilter.Response, error) {
			m.Quarantine("virus found")
			return gomilter.RespAccept, nil
		}}, "", queue.Hold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func() *fakeMilter { m := tc.m; return &m })
			c, _ := setup(t, Config{Address: srv.addr})
			id, err := submit(t, c, smtpEnv("bob@example.com"))
			if got := errText(err); got != tc.want {
				t.Fatalf("Submit = %q, want %q", got, tc.want)
			}
			for _, st := range []queue.State{queue.Incoming, queue.Hold} {
				want := 0
				if st == tc.state {
					want = 1
				}
				if n := count(t, c, st); n != want {
					t.Errorf("%s holds %d messages, want %d", st, n, want)
				}
			}
			if tc.state == queue.Hold {
				env, _ := stored(t, c, queue.Hold, id)
				if !strings.Contains(env.HoldReason, "virus found") {
					t.Errorf("hold reason %q", env.HoldReason)
				}
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	var st *dsn.Status
	if errors.As(err, &st) {
		return st.Error()
	}
	return err.Error()
}

// TestMilterOrder: milters run in order, each seeing the edits of those
// before it.
func TestMilterOrder(t *testing.T) {
	first := serve(t, func() *fakeMilter {
		return &fakeMilter{eom: func(m *gomilter.Modifier) (gomilter.Response, error) {
			m.AddHeader("X-First", "1")
			return gomilter.RespAccept, nil
		}}
	})
	second := serve(t, func() *fakeMilter { return &fakeMilter{} })
	c, _ := setup(t, Config{Name: "a", Address: first.addr}, Config{Name: "b", Address: second.addr})
	if _, err := submit(t, c, smtpEnv("bob@example.com")); err != nil {
		t.Fatal(err)
	}
	seen, _, _ := second.last()
	if seen.headers.Get("X-First") != "1" {
		t.Errorf("second milter saw %v", seen.headers)
	}
}

// TestMilterAppliesTo: applies_to chooses network or local mail; the
// system's own notices are never filtered.
func TestMilterAppliesTo(t *testing.T) {
	srv := serve(t, func() *fakeMilter {
		return &fakeMilter{eom: func(*gomilter.Modifier) (gomilter.Response, error) { return gomilter.RespReject, nil }}
	})
	sendmail := queue.Client{Name: "localhost", Proto: "LOCAL", AuthUser: "alice"}
	notice := queue.Client{Name: "localhost", Proto: "LOCAL"}
	for _, tc := range []struct {
		smtpd, local bool
		client       queue.Client
		reject       bool
	}{
		{true, false, smtpEnv().Client, true},
		{true, false, sendmail, false},
		{true, true, sendmail, true},
		{false, true, smtpEnv().Client, false},
		{true, true, notice, false},
	} {
		c, f := setup(t, Config{Address: srv.addr})
		f.milters[0].cfg.Smtpd, f.milters[0].cfg.Local = tc.smtpd, tc.local
		env := smtpEnv("bob@example.com")
		env.Client = tc.client
		_, err := submit(t, c, env)
		if (err != nil) != tc.reject {
			t.Errorf("smtpd=%v local=%v client=%+v: Submit = %v", tc.smtpd, tc.local, tc.client, err)
		}
	}
}

// TestMilterFailures: a milter that is down, hangs, dies mid-message or
// talks garbage costs bounded time and gets the default action; nothing
// half-filtered is queued.
func TestMilterFailures(t *testing.T) {
	down := closedAddr(t)
	hang := rawServer(t, func(c net.Conn, done <-chan struct{}) { c.Read(make([]byte, 1)); <-done })
	garbage := rawServer(t, func(c net.Conn, _ <-chan struct{}) {
		c.Read(make([]byte, 64))
		c.Write([]byte("\x00\x00\x00\x05HELLO garbage that is not the milter protocol"))
	})
	crash := serve(t, func() *fakeMilter {
		return &fakeMilter{eom: func(m *gomilter.Modifier) (gomilter.Response, error) {
			m.AddHeader("X-Half", "filtered")
			return nil, errors.New("crash")
		}}
	})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := serve(t, func() *fakeMilter {
		return &fakeMilter{eom: func(m *gomilter.Modifier) (gomilter.Response, error) {
			m.AddHeader("X-Half", "filtered")
			<-release // outlives message_timeout
			return gomilter.RespAccept, nil
		}}
	})
	for _, addr := range []struct{ name, addr string }{
		{"down", down}, {"hang", hang}, {"garbage", garbage}, {"crash", crash.addr}, {"slow", slow.addr},
	} {
		for _, def := range []DefaultAction{Tempfail, Accept, Reject} {
			t.Run(addr.name+"/"+def.String(), func(t *testing.T) {
				c, _ := setup(t, Config{Address: addr.addr, DefaultAction: def, ConnectTimeout: time.Second,
					CommandTimeout: 2 * time.Second, MessageTimeout: 500 * time.Millisecond})
				start := time.Now()
				id, err := submit(t, c, smtpEnv("bob@example.com"))
				if took := time.Since(start); took > 4*time.Second {
					t.Errorf("took %v", took)
				}
				want := map[DefaultAction]string{Tempfail: "451 4.7.1 Service unavailable - try again later",
					Accept: "", Reject: "550 5.7.1 Command rejected"}[def]
				if got := errText(err); got != want {
					t.Fatalf("Submit = %q, want %q", got, want)
				}
				if def != Accept {
					if n := count(t, c, queue.Incoming); n != 0 {
						t.Errorf("%d queued", n)
					}
					return
				}
				_, content := stored(t, c, queue.Incoming, id)
				if strings.Contains(content, "X-Half") || !strings.Contains(content, "body line") {
					t.Errorf("queued half-filtered:\n%s", content)
				}
			})
		}
	}
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "inet:" + addr
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]string{
		"inet:127.0.0.1:11332": "tcp 127.0.0.1:11332", "unix:/run/rspamd.sock": "unix /run/rspamd.sock",
		"inet:11332@127.0.0.1": "tcp 127.0.0.1:11332", "inet:11332@::1": "tcp [::1]:11332",
		"127.0.0.1:11332": "error", "inet:": "error", "tcp:x:1": "error",
	} {
		n, a, err := ParseAddress(in)
		got := n + " " + a
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("ParseAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReplyStatus(t *testing.T) {
	for _, tc := range []struct {
		code int
		text string
		want string
	}{
		{554, "5.7.1 Spam message rejected", "554 5.7.1 Spam message rejected"},
		{450, "try later", "450 4.0.0 try later"},
		{550, "4.7.1 wrong class", "550 5.0.0 4.7.1 wrong class"},
		{250, "2.0.0 ok", "451 4.7.1 Service unavailable - try again later"},
		{554, "", "554 5.0.0 Command rejected"},
		{550, "550-5.7.1 first\r\n550 5.7.1 last", "550 5.7.1 last"},
	} {
		if got := replyStatus(tc.code, tc.text).Error(); got != tc.want {
			t.Errorf("replyStatus(%d, %q) = %q, want %q", tc.code, tc.text, got, tc.want)
		}
	}
}
