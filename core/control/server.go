package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"github.com/moonpost/moonpost/core/admin"
)

// Hooks is what the REPL needs from the Lua hook engine (*hooks.Engine
// has it). NewState returns a sandboxed state with the stdlib and a
// "hooks" table; the caller owns and closes it.
type Hooks interface {
	NewState() *lua.LState
	Generation() (n int, loadedAt time.Time)
	LastError() error
}

// Server serves the control socket. Set the fields, then Listen and
// Serve.
type Server struct {
	Path   string       // socket path; see SocketPath
	Admin  *admin.Admin // queue administration
	Hooks  Hooks        // nil: no scripts loaded; sessions get the stdlib only
	Config map[string]any
	Log    *slog.Logger
	// Status facts the server cannot know by itself; either may be nil.
	Started   time.Time
	Listeners func() []string
	Counters  func() map[string]int // delivery counters since start
	Reload    Reloader              // the "reload" op; nil refuses it
	// Busiest returns the recipient outcomes by destination site and
	// by tenant (Status.Sites, Status.Tenants); nil: none shown.
	Busiest func() (sites, tenants []Outcomes)
	// Route prints what the live generation does with mail to an
	// address (`moonpost route`); nil: the op is refused.
	Route func(ctx context.Context, w io.Writer, addr, sender string, header []string) error
	// PolicyDiff prints what the scripts in dir would decide differently
	// from the live generation (`moonpost policy diff`); nil: refused.
	PolicyDiff func(ctx context.Context, w io.Writer, dir string, samples []string) error

	MaxConns     int           // sessions served at once (8)
	ChunkTimeout time.Duration // bound on one eval (10s)
	// MaxChunkTimeout is the longest deadline an eval may ask for with
	// its timeout field (1h).
	MaxChunkTimeout time.Duration
	IdleTimeout     time.Duration // a session with no request for this long is closed (1h)

	ln    *net.UnixListener
	sem   chan struct{}
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (s *Server) defaults() {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.MaxConns <= 0 {
		s.MaxConns = 8
	}
	if s.ChunkTimeout <= 0 {
		s.ChunkTimeout = 10 * time.Second
	}
	if s.MaxChunkTimeout <= 0 {
		s.MaxChunkTimeout = time.Hour
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = time.Hour
	}
	if s.Started.IsZero() {
		s.Started = time.Now()
	}
}

// Listen creates the private folder (0700) and the socket (0600). A
// socket left behind by a crash is replaced; a live one means another
// daemon uses this spool, and is an error.
func (s *Server) Listen() error {
	s.defaults()
	dir := filepath.Dir(s.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	if err := removeStale(s.Path); err != nil {
		return err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.Path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	// The socket is created with the umask's mode; nobody else can reach
	// it meanwhile, since the folder is already 0700.
	if err := os.Chmod(s.Path, 0o600); err != nil {
		ln.Close()
		return err
	}
	ln.SetUnlinkOnClose(true)
	s.ln = ln
	s.sem = make(chan struct{}, s.MaxConns)
	s.conns = map[net.Conn]struct{}{}
	return nil
}

func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("control: %s exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("control: %s is in use: is another daemon running on this spool?", path)
	}
	return os.Remove(path)
}

// Serve accepts connections until ctx ends, then closes every session
// (cancelling chunks that run) and returns once their goroutines ended.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		return errors.New("control: Serve before Listen")
	}
	stop := context.AfterFunc(ctx, func() { s.ln.Close(); s.closeAll() })
	defer stop()
	defer s.wg.Wait()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if !s.track(c) {
			c.Close() // shutting down
			continue
		}
		s.wg.Add(1)
		go s.handle(ctx, c)
	}
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

// handle checks the peer, then serves its requests in order.
func (s *Server) handle(ctx context.Context, c *net.UnixConn) {
	defer s.wg.Done()
	defer s.untrack(c)
	uid, pid, err := peer(c)
	if err == nil && !allowed(uid) {
		err = fmt.Errorf("permission denied: uid %d may not use the control socket", uid)
	}
	if err != nil {
		s.Log.Warn("control: connection refused", "uid", uid, "pid", pid, "err", err)
		s.refuse(c, err.Error())
		return
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		s.refuse(c, fmt.Sprintf("too many control sessions (limit %d)", s.MaxConns))
		return
	}
	s.Log.Info("control: session opened", "uid", uid, "pid", pid)
	defer s.Log.Info("control: session closed", "uid", uid, "pid", pid)
	sess := newSession(s)
	defer sess.close()
	if s.write(c, Response{}) != nil {
		return
	}
	for {
		c.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		var req Request
		if err := ReadFrame(c, &req); err != nil {
			if !errors.Is(err, net.ErrClosed) && ctx.Err() == nil && !isEOF(err) {
				s.write(c, Response{Error: "bad request: " + err.Error()})
			}
			return
		}
		if s.write(c, s.serve(ctx, sess, &req)) != nil {
			return
		}
	}
}

func (s *Server) refuse(c net.Conn, msg string) { s.write(c, Response{Error: msg}) }

func (s *Server) write(c net.Conn, r Response) error {
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := WriteFrame(c, r); err != nil {
		if len(r.Output) > 0 || len(r.Result) > 0 {
			// Over the frame limit: say so instead of dropping the session.
			return WriteFrame(c, Response{Error: err.Error()})
		}
		return err
	}
	return nil
}

// peer returns the connecting process's credentials, from the kernel.
func peer(c *net.UnixConn) (uid uint32, pid int32, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, 0, err
	}
	if cerr != nil {
		return 0, 0, cerr
	}
	return cred.Uid, cred.Pid, nil
}

// allowed: root, and the user the daemon runs as.
func allowed(uid uint32) bool { return uid == 0 || uid == uint32(os.Geteuid()) }
