package qmgr

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/queue"
)

// The delivery line ends with the session's TLS outcome when the agent
// gave one, and is unchanged when it did not.
func TestOutcomeLineCarriesTLS(t *testing.T) {
	var buf strings.Builder
	clk := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	m := &Manager{Log: slog.New(slog.NewTextHandler(&buf, nil)), Clock: clk}
	msg := &queue.Message{}
	msg.ID = "0123456789ABCDEF01"
	msg.Arrival = clk.now
	msg.Recipients = []queue.Recipient{{Addr: "x@example.test"}}
	ok := dsn.New(250, "2.0.0", "ok")
	m.logOutcome(msg, 0, deliver.Result{Status: ok, Relay: "mx[192.0.2.1]:25",
		TLS: "TLSv1.3 TLS_AES_128_GCM_SHA256 verified=yes policy=dane"}, "sent")
	m.logOutcome(msg, 0, deliver.Result{Status: ok, Relay: "local"}, "sent")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log:\n%s", buf.String())
	}
	if !strings.Contains(lines[0], "status=sent (ok), tls=TLSv1.3 TLS_AES_128_GCM_SHA256 verified=yes policy=dane") ||
		!strings.Contains(lines[0], `tls="TLSv1.3`) {
		t.Errorf("line with TLS: %s", lines[0])
	}
	if strings.Contains(lines[1], "tls=") {
		t.Errorf("line without TLS names it: %s", lines[1])
	}
}
