package routing

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

func TestMain(m *testing.M) { e2e.Main(m) }

func TestRouting(t *testing.T) {
	relay1, relay2, lmtp := e2e.NewSink(t, false), e2e.NewSink(t, false), e2e.NewSink(t, true)
	d := e2e.Setup(t, ".",
		"[relay1.example]:587", "[127.0.0.1]:"+port(relay1.Addr),
		"[relay2.example]:587", "[127.0.0.1]:"+port(relay2.Addr),
		"inet:lmtp.example:24", "inet:"+lmtp.Addr)
	mbox := d.Path("robot.mbox")
	transport := d.Path("scripts", "tables", "transport")
	b, _ := os.ReadFile(transport)
	os.WriteFile(transport, []byte(strings.ReplaceAll(string(b), "/tmp/moonpost-robot.mbox", mbox)), 0o644)
	d.Start()

	e2e.Mail(t, d.Addr, "alice@example.test", []string{"bob@partner.example"}, "Subject: 1\n\nx\n")
	e2e.Mail(t, d.Addr, "billing@example.test", []string{"carol@elsewhere.example"}, "Subject: 2\n\nx\n")
	e2e.Mail(t, d.Addr, "alice@example.test", []string{"dave@hosted.example"}, "Subject: 3\n\nx\n")
	e2e.Mail(t, d.Addr, "alice@example.test", []string{"robot@example.test"}, "Subject: 4\n\nx\n")
	e2e.Mail(t, d.Addr, "alice@example.test", []string{"eve@retired.example"}, "Subject: 5\n\nx\n")

	check := func(name string, s *e2e.Sink, rcpt string) {
		got := s.Wait(t, 1)
		if len(got) != 1 || got[0].To[0] != rcpt {
			t.Errorf("%s got %+v, want one message to %s", name, got, rcpt)
		}
	}
	check("relay1 (per domain)", relay1, "bob@partner.example")
	check("relay2 (per sender)", relay2, "carol@elsewhere.example")
	check("lmtp (hosted domain)", lmtp, "dave@hosted.example")
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(mbox)
		if strings.Contains(string(b), "Subject: 4") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipe never wrote %s:\n%s", mbox, d.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	bounce := d.WaitMaildir("spool/mail/alice", 1)
	if !strings.Contains(bounce[0], "this domain is retired") {
		t.Errorf("bounce for the retired domain: %q", bounce[0])
	}
	code, out := d.Run("route", "carol@elsewhere.example", "--sender", "billing@example.test")
	if code != 0 || !strings.Contains(out, "nexthop: [127.0.0.1]:"+port(relay2.Addr)) {
		t.Errorf("route: %d\n%s", code, out)
	}
}

func port(hostport string) string { return hostport[strings.LastIndex(hostport, ":")+1:] }
