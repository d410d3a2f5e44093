package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/queue"
)

func isEOF(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) }

// serve answers one request.
func (s *Server) serve(ctx context.Context, sess *session, req *Request) Response {
	switch req.Op {
	case "eval":
		limit, err := s.chunkTimeout(req.Timeout)
		if err != nil {
			return Response{Error: err.Error()}
		}
		return sess.eval(ctx, req.Code, req.Name, limit)
	case "complete":
		return Response{Candidates: sess.complete(req.Prefix)}
	case "status":
		return result(s.Status(ctx))
	case "reload":
		return result(s.reload(ctx))
	case "queue":
		cctx, cancel := context.WithTimeout(ctx, s.ChunkTimeout)
		defer cancel()
		return result(s.QueueCommand(cctx, req))
	case "route":
		return s.route(ctx, req)
	case "policy_diff":
		return s.policyDiff(ctx, req)
	}
	return Response{Error: "unknown op " + quote(req.Op)}
}

// policyDiffTimeout bounds a policy_diff, which may walk the whole queue.
const policyDiffTimeout = 2 * time.Minute

func (s *Server) policyDiff(ctx context.Context, req *Request) Response {
	if s.PolicyDiff == nil {
		return Response{Error: "policy diff: no policy loaded"}
	}
	if req.Dir == "" {
		return Response{Error: "policy diff: no folder"}
	}
	cctx, cancel := context.WithTimeout(ctx, policyDiffTimeout)
	defer cancel()
	var out strings.Builder
	if err := s.PolicyDiff(cctx, &out, req.Dir, req.Samples); err != nil {
		return Response{Output: out.String(), Error: err.Error()}
	}
	return Response{Output: out.String()}
}

// route runs Server.Route under the chunk deadline; its printed lines
// come back in Output.
func (s *Server) route(ctx context.Context, req *Request) Response {
	if s.Route == nil {
		return Response{Error: "route: no policy loaded"}
	}
	if req.Addr == "" {
		return Response{Error: "route: no address"}
	}
	cctx, cancel := context.WithTimeout(ctx, s.ChunkTimeout)
	defer cancel()
	var out strings.Builder
	if err := s.Route(cctx, &out, req.Addr, req.Sender, req.Header); err != nil {
		return Response{Output: out.String(), Error: err.Error()}
	}
	return Response{Output: out.String()}
}

func result(v any, err error) Response {
	if err != nil {
		return Response{Error: err.Error()}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Response{Error: err.Error()}
	}
	return Response{Result: b}
}

// QueueCommand runs a queue action of the CLI (req.Action and its
// fields): the one implementation behind the CLI, the REPL's queue module
// and the HTTP API.
func (s *Server) QueueCommand(ctx context.Context, req *Request) (any, error) {
	var spec admin.Spec
	if req.Filter != nil {
		spec = *req.Filter
	}
	f, err := spec.Compile()
	if err != nil {
		return nil, err
	}
	switch req.Action {
	case "list":
		return s.Admin.List(ctx, f)
	case "stats":
		return s.Admin.Stats(ctx, 0)
	case "flush":
		return s.Admin.Flush(ctx, req.Text, req.DryRun)
	case "suspend", "resume", "suspensions", "destinations":
		return s.shapingCommand(ctx, req)
	}
	op, ok := admin.ParseOp(req.Action)
	if !ok {
		return nil, errors.New("unknown queue action " + quote(req.Action))
	}
	sel := admin.Selection{Filter: f}
	for _, id := range req.IDs {
		sel.IDs = append(sel.IDs, queue.ID(id))
	}
	if len(sel.IDs) == 0 && req.Filter == nil {
		return nil, errors.New("no messages named: give IDs or a filter")
	}
	return s.Admin.Do(ctx, op, sel, req.Text, req.DryRun)
}

// Status is what moonpost status shows.
type Status struct {
	PID        int                    `json:"pid"`
	Started    time.Time              `json:"started"`
	Uptime     string                 `json:"uptime"`
	Listeners  []string               `json:"listeners"`
	Scripts    bool                   `json:"scripts"` // a hooks engine is loaded
	Generation int                    `json:"generation,omitempty"`
	LoadedAt   time.Time              `json:"loaded_at,omitzero"`
	LastError  string                 `json:"last_error,omitempty"` // of the last reload attempt
	Queue      map[string]admin.Count `json:"queue"`
	Counters   map[string]int         `json:"counters,omitempty"`
	Sessions   int                    `json:"sessions"` // control sessions open, this one included
	Breakers   map[string]string      `json:"breakers,omitempty"`
	// Sites and Tenants are the recipient outcomes since start by
	// destination site and by tenant, the busiest first ("other": the
	// rest; see docs/operations.md on the bounded labels).
	Sites   []Outcomes `json:"sites,omitempty"`
	Tenants []Outcomes `json:"tenants,omitempty"`
}

// Outcomes are the recipient outcomes of one site or tenant.
type Outcomes struct {
	Name     string `json:"name"`
	Sent     uint64 `json:"sent"`
	Deferred uint64 `json:"deferred"`
	Bounced  uint64 `json:"bounced"`
}

// Status is what "moonpost status" and GET /api/status show.
func (s *Server) Status(ctx context.Context) (*Status, error) {
	st := &Status{PID: os.Getpid(), Started: s.Started, Uptime: time.Since(s.Started).Truncate(time.Second).String(),
		Queue: map[string]admin.Count{}, Sessions: len(s.sem)}
	if s.Listeners != nil {
		st.Listeners = s.Listeners()
		sort.Strings(st.Listeners)
	}
	if s.Counters != nil {
		st.Counters = s.Counters()
	}
	if s.Busiest != nil {
		st.Sites, st.Tenants = s.Busiest()
	}
	if s.Hooks != nil {
		st.Scripts = true
		st.Generation, st.LoadedAt = s.Hooks.Generation()
		if err := s.Hooks.LastError(); err != nil {
			st.LastError = err.Error()
		}
		// Event → circuit breaker state, when the engine reports them.
		if b, ok := s.Hooks.(interface{ BreakerStates() map[string]string }); ok {
			st.Breakers = b.BreakerStates()
		}
	}
	for _, q := range append(admin.ListStates, queue.Corrupt) {
		var c admin.Count
		err := s.Admin.Store.Walk(q, func(e queue.Entry) bool {
			c.Messages++
			c.Bytes += e.Size
			return true
		})
		if err != nil {
			return nil, err
		}
		st.Queue[string(q)] = c
	}
	return st, ctx.Err()
}

// chunkTimeout is an eval's deadline: ChunkTimeout, or the request's own
// (a positive Go duration up to MaxChunkTimeout).
func (s *Server) chunkTimeout(asked string) (time.Duration, error) {
	if asked == "" {
		return s.ChunkTimeout, nil
	}
	d, err := time.ParseDuration(asked)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("timeout %s: want a positive duration such as 90s or 5m", quote(asked))
	}
	if d > s.MaxChunkTimeout {
		return 0, fmt.Errorf("timeout %s: above the longest allowed, %s", asked, s.MaxChunkTimeout)
	}
	return d, nil
}
