package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/control"
	"github.com/moonpost/moonpost/core/queue"
)

// Control is the daemon's one implementation of status and queue
// operations (control.Server). Both calls must honour ctx.
type Control interface {
	Status(ctx context.Context) (*control.Status, error)
	QueueCommand(ctx context.Context, req *control.Request) (any, error)
}

// Submitter queues one message (cleanup.Cleanup). Submit returns only
// once the message is committed, or with the reason it is not; it always
// consumes r.
type Submitter interface {
	Submit(ctx context.Context, env *queue.Envelope, r io.Reader) (queue.ID, error)
}

// Server serves the HTTP listener. Set the fields, then Listen and Serve.
type Server struct {
	Addrs   []string     // host:port to listen on
	Token   string       // bearer token for /api/; "" refuses every /api/ request
	Metrics http.Handler // /metrics; nil: 404
	Control Control      // status and queue operations; nil: 503
	Admin   *admin.Admin // message display; nil: 503
	Submit  Submitter    // /api/inject; nil: 503
	// Reload is POST /api/reload, the daemon's reload (moonpost reload);
	// nil: 503.
	Reload func(ctx context.Context) (*control.ReloadResult, error)
	// MaxBody bounds a request body (0: 64 MiB). Inject's content must
	// fit, with the JSON around it.
	MaxBody int64
	// MaxInFlight bounds requests served at once (0: 64); more wait.
	MaxInFlight int
	Log         *slog.Logger

	mu        sync.Mutex
	listeners []net.Listener
	sem       chan struct{}
	unbound   chan struct{} // closed once Serve's shutdown closed the listeners
}

// LoadToken reads a bearer token: the first line of path, trimmed.
func LoadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if len(tok) < 16 {
		return "", fmt.Errorf("%s: the token must be at least 16 characters", path)
	}
	return tok, nil
}

// Listen opens every address; on an error none stays open.
func (s *Server) Listen() error {
	for _, a := range s.Addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("http listen %s: %w", a, err)
		}
		s.mu.Lock()
		s.listeners = append(s.listeners, ln)
		s.mu.Unlock()
	}
	return nil
}

// ListenAddrs returns the addresses actually listened on.
func (s *Server) ListenAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for _, ln := range s.listeners {
		out = append(out, ln.Addr())
	}
	return out
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.listeners = nil
}

// Serve answers requests until ctx ends, then shuts down, giving requests
// in flight (an inject waiting for its commit) a few seconds to finish.
func (s *Server) Serve(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // a large inject on a slow link
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log().Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	lns := append([]net.Listener(nil), s.listeners...)
	s.mu.Unlock()
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			srv.Close()
			return err
		}
	}
	// The addresses are free from here on, while requests in flight
	// (a reload over the API that reopens this very listener) finish.
	s.closeListeners()
	close(s.unboundChan())
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return nil
}

// Handler routes the requests; exported for tests and embedding.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.Handle("POST /api/inject", s.api(s.inject))
	mux.Handle("GET /api/status", s.api(s.status))
	mux.Handle("GET /api/queue", s.api(s.queueList))
	mux.Handle("GET /api/queue/stats", s.api(s.queueStats))
	mux.Handle("GET /api/queue/{id}", s.api(s.queueShow))
	mux.Handle("POST /api/queue/{action}", s.api(s.queueAct))
	mux.Handle("POST /api/reload", s.api(s.reload))
	mux.Handle("/api/", s.api(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "not_found", "", "no such endpoint: %s %s", r.Method, r.URL.Path)
	}))
	return s.bounded(mux)
}

// bounded limits the requests served at once and the size of a body.
func (s *Server) bounded(next http.Handler) http.Handler {
	s.mu.Lock()
	if s.sem == nil {
		n := s.MaxInFlight
		if n <= 0 {
			n = 64
		}
		s.sem = make(chan struct{}, n)
	}
	sem := s.sem
	s.mu.Unlock()
	max := s.MaxBody
	if max <= 0 {
		max = 64 << 20
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		case <-r.Context().Done():
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.Metrics == nil {
		http.NotFound(w, r)
		return
	}
	s.Metrics.ServeHTTP(w, r)
}

// api wraps an /api/ handler: the bearer token, then JSON errors.
func (s *Server) api(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="moonpost"`)
			writeError(w, errorf(http.StatusUnauthorized, "unauthorized", "", "a valid bearer token is required"))
			return
		}
		if err := h(w, r); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				s.log().Error("http api: internal error", "path", r.URL.Path, "err", err)
				ae = errorf(http.StatusInternalServerError, "internal", "", "internal error, see the log")
			}
			writeError(w, ae)
		}
	})
}

func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && s.Token != "" && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.Token)) == 1
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Unbound is closed once a Serve whose context ended has closed its
// listening sockets, before it waits for the requests in flight.
func (s *Server) Unbound() <-chan struct{} { return s.unboundChan() }

func (s *Server) unboundChan() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unbound == nil {
		s.unbound = make(chan struct{})
	}
	return s.unbound
}
