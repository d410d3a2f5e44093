package qmgr

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/resolve"
)

// logBuf is a log sink safe for the manager's goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// genRouter routes everything over smtp and says which generation
// decided, as the hooks engine does.
type genRouter int

func (g genRouter) Route(_ context.Context, rcpt string, _ *queue.Envelope) (policy.Route, error) {
	_, domain := resolve.Split(rcpt)
	return policy.Route{Transport: "smtp", Nexthop: domain, Generation: int(g)}, nil
}

// The delivery log line names the script generation that chose the
// route, after the fields log summarisers parse.
func TestDeliveryLogNamesTheGeneration(t *testing.T) {
	var buf logBuf
	h := newHarnessLog(t, slog.New(slog.NewTextHandler(&buf, nil)), nil)
	h.mgr.Resolver = &resolve.Resolver{Router: genRouter(7), Transports: map[string]bool{"smtp": true}}
	h.start()
	id := h.submit("a@x.test", "b@y.test")
	h.waitFor("the delivery line", func() bool { return strings.Contains(buf.String(), "status=sent") })
	var line string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.Contains(l, string(id)+": to=<b@y.test>") {
			line = l
		}
	}
	if !strings.Contains(line, "status=sent (") || !strings.Contains(line, "), generation=7") {
		t.Errorf("delivery line %q lacks the generation after the status", line)
	}
}
