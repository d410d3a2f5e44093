// Command smtpsink is a receiving SMTP server that accepts and discards
// every message, counting them; it prints the count and the time from
// the first to the last message when it has received -n messages (or on
// SIGINT), and reports duplicates by Message-ID. It is the relay target
// of the benchmarks, and the most connections any one of its listening
// addresses had at once (max_conns: a sender's concurrency toward one
// destination). With -stay it prints "reached=N" the moment the
// count reaches -n and keeps counting until SIGINT or SIGTERM, so a
// message delivered twice or in excess is still seen. With -tls-cert and
// -tls-key it offers STARTTLS.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

type counter struct {
	mu          sync.Mutex
	n           int
	first, last time.Time
	seen        map[string]int
	dups        int
	target      int
	done        chan struct{}
	tls         *tls.Config // nil: no STARTTLS
	want        string      // lower-case header name every message should carry; "" none
	missing     int         // messages without it
	arrivals    []time.Time // when each message (by its recipients) was counted
	delay       time.Duration
	// conns counts the open connections per listening address, and
	// maxConns the most any one address had at once: the sender's
	// concurrency toward one destination.
	conns    map[string]int
	maxConns int
}

// opened counts a connection to addr and returns the function that
// counts it closed.
func (c *counter) opened(addr string) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns[addr]++
	c.maxConns = max(c.maxConns, c.conns[addr])
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.conns[addr]--
	}
}

// timeline is the count at every 100 ms from start to the last arrival,
// as "seconds,count" lines; the caller holds c.mu.
func (c *counter) timeline(start time.Time) []byte {
	var b bytes.Buffer
	const step = 100 * time.Millisecond
	i, n := 0, 0
	for t := start; ; t = t.Add(step) {
		for i < len(c.arrivals) && !c.arrivals[i].After(t) {
			i++
			n = i
		}
		fmt.Fprintf(&b, "%.1f,%d\n", t.Sub(start).Seconds(), n)
		if i == len(c.arrivals) {
			return b.Bytes()
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:2526", "listen address, or several separated by commas")
	delay := flag.Duration("delay", 0, "answer every command after this long (a tarpit)")
	n := flag.Int("n", 0, "exit after this many messages (0: run until SIGINT)")
	stay := flag.Bool("stay", false, "at -n, print reached=N and keep counting until a signal")
	cert := flag.String("tls-cert", "", "PEM certificate: offer STARTTLS")
	key := flag.String("tls-key", "", "PEM key of -tls-cert")
	want := flag.String("want-header", "", "count messages without this header field (printed as missing=N)")
	timeline := flag.String("timeline", "", "at exit, write the count every 100 ms since the start to this file (seconds,count lines)")
	flag.Parse()
	started := time.Now()
	c := &counter{seen: map[string]int{}, target: *n, done: make(chan struct{}), want: strings.ToLower(*want), conns: map[string]int{}}
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			fmt.Fprintln(os.Stderr, "smtpsink:", err)
			os.Exit(1)
		}
		c.tls = &tls.Config{Certificates: []tls.Certificate{pair}}
	}
	c.delay = *delay
	var lns []net.Listener
	for _, a := range strings.Split(*addr, ",") {
		ln, err := net.Listen("tcp", strings.TrimSpace(a))
		if err != nil {
			fmt.Fprintln(os.Stderr, "smtpsink:", err)
			os.Exit(1)
		}
		lns = append(lns, ln)
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return // closed at the end
				}
				closed := c.opened(ln.Addr().String())
				go func() {
					defer closed()
					serve(conn, c)
				}()
			}
		}()
	}
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
	for _, ln := range lns {
		ln.Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	span := c.last.Sub(c.first).Seconds()
	if *timeline != "" {
		if err := os.WriteFile(*timeline, c.timeline(started), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "smtpsink:", err)
		}
	}
	fmt.Printf("received=%d duplicates=%d missing=%d first_to_last=%.3fs max_conns=%d\n", c.n, c.dups, c.missing, span, c.maxConns)
}

// serve speaks just enough SMTP for an MTA relaying to the sink:
// EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, with PIPELINING, and
// STARTTLS when configured.
// Replies are held until the client's pipelined commands have all been
// read, as Postfix's smtpd and smtp-sink do, and the message content is
// scanned a line at a time straight from the read buffer: the sink
// shares the machine with the MTA it measures, so it does as little as
// it can. A line beyond the buffer is taken in pieces.
func serve(conn net.Conn, c *counter) {
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 64<<10)
	bw := bufio.NewWriterSize(conn, 4<<10)
	reply := func(s string) { bw.WriteString(s + "\r\n") }
	reply("220 sink.test ESMTP smtpsink")
	rcpts := 0
	mail := false
	secure := false
	var to []string // the transaction's RCPT arguments, for duplicate detection
	for {
		if br.Buffered() == 0 {
			if c.delay > 0 {
				time.Sleep(c.delay)
			}
			if bw.Flush() != nil {
				return
			}
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Minute))
		line, err := br.ReadSlice('\n')
		if err != nil {
			bw.Flush()
			return
		}
		cmd := strings.ToUpper(string(bytes.TrimRight(line, "\r\n")))
		verb, _, _ := strings.Cut(cmd, " ")
		switch verb {
		case "EHLO":
			reply("250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 67108864")
			if c.tls != nil && !secure {
				reply("250-STARTTLS")
			}
			reply("250 ENHANCEDSTATUSCODES")
		case "STARTTLS":
			if c.tls == nil || secure {
				reply("502 5.5.2 Error: command not recognized")
				continue
			}
			reply("220 2.0.0 Ready to start TLS")
			if bw.Flush() != nil {
				return
			}
			tc := tls.Server(conn, c.tls)
			tc.SetDeadline(time.Now().Add(time.Minute))
			if tc.Handshake() != nil {
				return
			}
			tc.SetDeadline(time.Time{})
			conn, secure, mail, rcpts = tc, true, false, 0
			br.Reset(conn)
			bw.Reset(conn)
		case "HELO":
			reply("250 sink.test")
		case "MAIL":
			mail, rcpts = true, 0
			reply("250 2.1.0 Ok")
		case "RCPT":
			if !mail {
				reply("503 5.5.1 Error: need MAIL command")
				continue
			}
			rcpts++
			if rcpts == 1 {
				to = to[:0]
			}
			to = append(to, strings.ToLower(strings.TrimSpace(string(line[min(len("RCPT TO:"), len(line)):]))))
			reply("250 2.1.5 Ok")
		case "DATA":
			if rcpts == 0 {
				reply("503 5.5.1 Error: need RCPT command")
				continue
			}
			reply("354 End data with <CR><LF>.<CR><LF>")
			if bw.Flush() != nil {
				return
			}
			id, has, ok := readData(br, c.want)
			if !ok {
				return
			}
			c.add(id, to, rcpts, has)
			mail, rcpts = false, 0
			reply("250 2.0.0 Ok: queued")
		case "RSET":
			mail, rcpts = false, 0
			reply("250 2.0.0 Ok")
		case "NOOP":
			reply("250 2.0.0 Ok")
		case "QUIT":
			reply("221 2.0.0 Bye")
			bw.Flush()
			return
		default:
			reply("502 5.5.2 Error: command not recognized")
		}
	}
}

// readData reads message content up to the lone dot and returns its
// Message-ID and whether the header has a field named want ("" counts
// as present); ok is false when the connection ended first.
func readData(br *bufio.Reader, want string) (id string, has, ok bool) {
	header, whole := true, true // in the header; at the start of a line
	has = want == ""
	for {
		line, err := br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			return id, has, false
		}
		if whole {
			switch {
			case string(line) == ".\r\n" || string(line) == ".\n":
				return id, has, true
			case header && (string(line) == "\r\n" || string(line) == "\n"):
				header = false
			case header && len(line) > 11 && strings.EqualFold(string(line[:11]), "message-id:"):
				id = strings.TrimSpace(string(line[11:]))
			case header && !has && len(line) > len(want) && line[len(want)] == ':' && strings.EqualFold(string(line[:len(want)]), want):
				has = true
			}
		}
		whole = err == nil
	}
}

// add counts one transaction. Duplicates are by Message-ID and
// recipient, so a message split over several destinations is not one,
// and a recipient getting the same message twice is.
func (c *counter) add(id string, to []string, rcpts int, has bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !has {
		c.missing++
	}
	now := time.Now()
	if c.n == 0 {
		c.first = now
	}
	c.last = now
	c.n += rcpts
	for range rcpts {
		c.arrivals = append(c.arrivals, now)
	}
	if id != "" {
		for _, r := range to {
			key := id + "\x00" + r
			c.seen[key]++
			if c.seen[key] > 1 {
				c.dups++
			}
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
