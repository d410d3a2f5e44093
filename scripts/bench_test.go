package scripts

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/hooks"
)

// BenchmarkDefaultPolicyPerMessage is the cost of the shipped scripts for
// one message with one local recipient, every hook the daemon calls: SMTP
// phases (no handler), the envelope and header rewrites cleanup asks for
// (sender, recipient, From, To), cleanup, the transport, the alias.
func BenchmarkDefaultPolicyPerMessage(b *testing.B) {
	aliases, _ := filepath.Abs("testdata/aliases")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := hooks.New(hooks.Config{Dir: ".", Logger: quiet, Config: map[string]any{
		"myorigin": "example.org", "mydestination": []string{"example.org", "localhost"},
		"local": map[string]any{"aliases": aliases},
	}, TableDirs: []string{aliases}})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	s := &policy.Session{ID: "s1", Listener: "smtp"}
	env := &queue.Envelope{Sender: "alice", Recipients: []queue.Recipient{{Addr: "team@example.org"}}}
	b.ReportAllocs()
	for b.Loop() {
		eng.Connect(ctx, s)
		eng.Helo(ctx, s, "client.example")
		eng.Mail(ctx, s, "alice")
		eng.Rcpt(ctx, s, "team@example.org")
		var h textproto.Header
		h.Set("Subject", "hi")
		eng.Data(ctx, s, &h, nil)
		for _, r := range []policy.AddrContext{{Role: "sender", Where: "envelope"}, {Role: "recipient", Where: "envelope"},
			{Role: "sender", Where: "header", Header: "From"}, {Role: "recipient", Where: "header", Header: "To"}} {
			if _, err := eng.Rewrite(ctx, "alice", r); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := eng.Cleanup(ctx, &policy.Message{Envelope: env, Header: &h}); err != nil {
			b.Fatal(err)
		}
		if _, err := eng.Route(ctx, "team@example.org", env); err != nil {
			b.Fatal(err)
		}
		if _, _, err := eng.ExpandAlias(ctx, "team", "example.org"); err != nil {
			b.Fatal(err)
		}
		eng.Delivered(ctx, policy.Event{QueueID: "Q", Recipient: "team@example.org"})
	}
}
