package filtering

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
	"github.com/moonpost/moonpost/core/dns/dnstest"
)

func TestMain(m *testing.M) { e2e.Main(m) }

// fakeRspamd answers like rspamd's milter, by Subject: "spam" is
// rejected, "bulk" scores 7, anything else 0.5.
type fakeRspamd struct {
	gomilter.NoOpMilter
	subject string
}

func (f *fakeRspamd) Header(name, value string, _ *gomilter.Modifier) (gomilter.Response, error) {
	if strings.EqualFold(name, "Subject") {
		f.subject = value
	}
	return gomilter.RespContinue, nil
}

func (f *fakeRspamd) Body(m *gomilter.Modifier) (gomilter.Response, error) {
	switch f.subject {
	case "spam":
		return gomilter.NewResponseStr('y', "554 5.7.1 Spam message rejected"), nil
	case "bulk":
		m.AddHeader("X-Spamd-Result", "default: False [7.00 / 15.00];\n\tBULK(7.00)[]")
	default:
		m.AddHeader("X-Spamd-Result", "default: False [0.50 / 15.00];\n\tMIME_GOOD(-0.10)[text/plain]")
	}
	return gomilter.RespAccept, nil
}

func startMilter(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &gomilter.Server{NewMilter: func() gomilter.Milter { return &fakeRspamd{} },
		Actions: gomilter.OptAddHeader | gomilter.OptChangeHeader}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// dialFrom opens an SMTP connection from a given loopback address.
func dialFrom(t *testing.T, local, addr string) (net.Conn, *bufio.Reader) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("SKIP: cannot dial from %s: %v", local, err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func reply(t *testing.T, r *bufio.Reader) string {
	var last string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (so far %q)", err, last)
		}
		last = strings.TrimRight(line, "\r\n")
		if len(last) < 4 || last[3] != '-' {
			return last
		}
	}
}

func TestFiltering(t *testing.T) {
	dns := dnstest.NewServer(t)
	dns.Add(t, "2.0.0.127.bl.example.test. 60 IN A 127.0.0.2")
	d := e2e.Setup(t, ".", "127.0.0.1:5353", dns.Addr, "127.0.0.1:11332", startMilter(t))
	d.Start()

	// The trusted host: no DNSBL, no greylisting; rspamd judged per customer.
	c := e2e.Dial(t, d.Addr)
	c.Expect("EHLO client.test", 250)
	send := func(to, subject string) (int, string) {
		return c.Send("s@remote.test", []string{to}, "From: s@remote.test\nTo: "+to+"\nSubject: "+subject+"\n\nbody\n")
	}
	if code, text := send("alice@example.test", "hello"); code != 250 {
		t.Fatalf("clean mail: %d %s", code, text)
	}
	if code, text := send("alice@example.test", "bulk"); code != 250 {
		t.Fatalf("bulk mail: %d %s", code, text)
	}
	if code, text := send("alice@example.test", "spam"); code != 554 || text != "5.7.1 Spam message rejected" {
		t.Errorf("spam to alice: %d %s", code, text)
	}
	if code, text := send("bob@example.test", "spam"); code != 250 {
		t.Errorf("spam to bob (tag): %d %s", code, text)
	}
	c.Cmd("QUIT")

	alice := d.WaitMaildir("spool/mail/alice", 1)
	if !strings.Contains(alice[0], "X-Spamd-Result: default: False [0.50 / 15.00]") {
		t.Errorf("alice's clean mail lacks rspamd's header:\n%s", alice[0])
	}
	bob := d.WaitMaildir("spool/mail/bob", 1)
	if !strings.Contains(bob[0], "X-Spam: Yes") {
		t.Errorf("bob's spam not tagged:\n%s", bob[0])
	}
	if held := d.Queued("hold"); len(held) != 1 {
		t.Errorf("hold/ has %v, want alice's bulk mail (score 7 >= 5)", held)
	}

	// A listed client is refused at connect.
	// (smtpd may answer the connect verdict after the greeting, to the
	// client's next command, as Postfix's smtpd_delay_reject does.)
	w, r := dialFrom(t, "127.0.0.2", d.Addr)
	got := reply(t, r)
	for _, cmd := range []string{"EHLO listed.test", "MAIL FROM:<s@remote.test>"} {
		if got[0] != '2' {
			break
		}
		w.Write([]byte(cmd + "\r\n"))
		got = reply(t, r)
	}
	if !strings.HasPrefix(got, "554 5.7.1 Service unavailable; client host [127.0.0.2] blocked using DNSBL") {
		t.Errorf("listed client: %q", got)
	}

	// An unlisted, untrusted client is greylisted at RCPT.
	w, r = dialFrom(t, "127.0.0.3", d.Addr)
	reply(t, r)
	for _, cmd := range []string{"EHLO other.test", "MAIL FROM:<s@remote.test>"} {
		w.Write([]byte(cmd + "\r\n"))
		if got := reply(t, r); got[0] != '2' {
			t.Fatalf("%s: %q", cmd, got)
		}
	}
	w.Write([]byte("RCPT TO:<alice@example.test>\r\n"))
	if got := reply(t, r); got != "450 4.2.0 Greylisted, please try again later" {
		t.Errorf("greylisting: %q", got)
	}
	if n := len(d.Maildir("spool/mail/alice")); n != 1 {
		t.Errorf("alice has %d messages, want 1", n)
	}
}
