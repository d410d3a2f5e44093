package lmtp

import (
	"context"
	"log/slog"
	"net"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/deliver/smtp"
	"github.com/moonpost/moonpost/core/dsn"
)

var badNexthop = dsn.New(451, "4.3.5", "mail system configuration error: bad LMTP next hop")

// Agent is the lmtp delivery agent: the smtp package's client in LMTP
// mode, with LMTP's next hops. It is safe for concurrent use.
type Agent struct {
	client *smtp.Agent
	log    *slog.Logger
}

var _ deliver.Agent = (*Agent)(nil)

// New builds an Agent.
func New(cfg Config) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sc, err := cfg.client()
	if err != nil {
		return nil, err
	}
	c, err := smtp.New(sc)
	if err != nil {
		return nil, err
	}
	return &Agent{client: c, log: cfg.Logger}, nil
}

// Close closes the cached connections. Deliver may not be called after.
func (a *Agent) Close() error { return a.client.Close() }

// Deliver implements deliver.Agent.
func (a *Agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	res := a.deliver(ctx, req)
	deliver.LogResults(a.log, req, res)
	return res
}

func (a *Agent) deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	n := len(req.Recipients)
	if n == 0 {
		return nil
	}
	// No option is defined for this transport.
	if res := deliver.RefuseOptions(a.log, req); res != nil {
		return res
	}
	nh, err := ParseNexthop(req.Nexthop)
	if err != nil {
		a.log.Error("bad next hop", "queue_id", req.QueueID, "err", err)
		return deliver.AllResults(n, badNexthop, "none")
	}
	relay := nh.String()
	t := smtp.Target{Network: nh.Network, Addr: nh.Addr, Host: tlsName(nh), Relay: relay}
	return a.client.DeliverTo(ctx, req, relay, []smtp.Target{t})
}

// tlsName is the name a server's certificate must carry: the host of a
// TCP next hop, "localhost" for a socket.
func tlsName(nh Nexthop) string {
	if nh.Network == "unix" {
		return "localhost"
	}
	host, _, _ := net.SplitHostPort(nh.Addr)
	return host
}
