// Command smtpsink is a receiving SMTP server that accepts and discards
// every message, counting them; it prints the count and the time from
// the first to the last message when it has received -n messages (or on
// SIGINT), and reports duplicates by Message-ID. It is the relay target
// of the benchmarks. With -stay it prints "reached=N" the moment the
// count reaches -n and keeps counting until SIGINT or SIGTERM, so a
// message delivered twice or in excess is still seen.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

type counter struct {
	mu          sync.Mutex
	n           int
	first, last time.Time
	seen        map[string]int
	dups        int
	target      int
	done        chan struct{}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:2526", "listen address")
	n := flag.Int("n", 0, "exit after this many messages (0: run until SIGINT)")
	stay := flag.Bool("stay", false, "at -n, print reached=N and keep counting until a signal")
	flag.Parse()
	c := &counter{seen: map[string]int{}, target: *n, done: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{c: c}, nil }))
	srv.Addr, srv.Domain = *addr, "sink.test"
	srv.MaxMessageBytes, srv.AllowInsecureAuth = 64<<20, true
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Minute, 5*time.Minute
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "smtpsink:", err)
		os.Exit(1)
	}
	go func() {
		if err := srv.Serve(batchListener{ln}); err != nil {
			fmt.Fprintln(os.Stderr, "smtpsink:", err)
			os.Exit(1)
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-sig:
	case <-c.done:
		if *stay {
			fmt.Printf("reached=%d\n", *n)
			<-sig
		}
	}
	srv.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	span := c.last.Sub(c.first).Seconds()
	fmt.Printf("received=%d duplicates=%d first_to_last=%.3fs\n", c.n, c.dups, span)
}

type session struct {
	c     *counter
	rcpts int
}

func (s *session) Reset()                               { s.rcpts = 0 }
func (s *session) Logout() error                        { return nil }
func (s *session) Mail(string, *smtp.MailOptions) error { return nil }
func (s *session) Rcpt(string, *smtp.RcptOptions) error { s.rcpts++; return nil }
func (s *session) Data(r io.Reader) error {
	id := ""
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if strings.HasPrefix(strings.ToLower(line), "message-id:") {
			id = strings.TrimSpace(line[11:])
		}
		if err != nil || line == "\r\n" {
			break
		}
	}
	io.Copy(io.Discard, br)
	s.c.add(id, s.rcpts)
	return nil
}

func (c *counter) add(id string, rcpts int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.n == 0 {
		c.first = now
	}
	c.last = now
	c.n += rcpts
	if id != "" {
		c.seen[id]++
		if c.seen[id] > 1 {
			c.dups++
		}
	}
	if c.target > 0 && c.n >= c.target {
		select {
		case <-c.done:
		default:
			close(c.done)
		}
	}
}

// batchListener hands go-smtp connections that hold replies back until
// the next read, as Postfix's smtpd and smtp-sink do: the replies to a
// pipelined MAIL/RCPT/DATA group leave in one write, not one per line,
// so the sink spends less of the machine the MTAs share with it.
type batchListener struct{ net.Listener }

func (l batchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &batchConn{Conn: c}, nil
}

type batchConn struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (c *batchConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.out = append(c.out, b...)
	c.mu.Unlock()
	return len(b), nil
}

func (c *batchConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.out)
	c.out = c.out[:0]
	return err
}

func (c *batchConn) Read(b []byte) (int, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *batchConn) Close() error {
	_ = c.flush()
	return c.Conn.Close()
}
