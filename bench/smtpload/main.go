// Command smtpload injects N messages of a given size into an SMTP server
// with C concurrent clients (one message per connection by default, or
// several per connection with -per-conn), and reports the accept rate:
// messages per second until the last 250. It counts refusals and errors
// and exits non-zero when not every message was accepted. With -tls each
// session starts TLS (STARTTLS) before the mail, resuming TLS sessions
// across connections as a real sender does; the server's certificate is
// not checked (the benchmarks use a self-signed one). With -latency it
// also prints the p50 and p99 time from the end of DATA to its 250.
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2525", "server address")
	n := flag.Int("n", 1000, "messages to send")
	c := flag.Int("c", 20, "concurrent clients")
	size := flag.Int("size", 1024, "message size in bytes")
	from := flag.String("from", "load@example.org", "envelope sender")
	to := flag.String("to", "sink@remote.test", "envelope recipient")
	perConn := flag.Int("per-conn", 1, "messages per connection")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	useTLS := flag.Bool("tls", false, "STARTTLS before the mail (TLS 1.3, resumed sessions)")
	latency := flag.Bool("latency", false, "print p50/p99 of end of DATA to 250")
	flag.Parse()
	if *useTLS {
		tlsConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13,
			ClientSessionCache: tls.NewLRUClientSessionCache(256)}
	}
	body := makeBody(*size)
	var next, ok, failed atomic.Int64
	start := time.Now()
	deadline := start.Add(*timeout)
	var wg sync.WaitGroup
	for w := 0; w < *c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				k := int(next.Add(int64(*perConn))) - *perConn
				if k >= *n {
					return
				}
				sent, err := session(*addr, *from, *to, body, k, min(*perConn, *n-k))
				ok.Add(int64(sent))
				if err != nil {
					failed.Add(int64(min(*perConn, *n-k) - sent))
					fmt.Fprintln(os.Stderr, "smtpload:", err)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("accepted=%d failed=%d seconds=%.3f rate=%.1f msg/s (size=%d clients=%d)\n",
		ok.Load(), failed.Load(), el, float64(ok.Load())/el, *size, *c)
	if *latency {
		p50, p99 := lat.percentiles()
		fmt.Printf("latency_p50=%.2fms latency_p99=%.2fms\n", p50.Seconds()*1000, p99.Seconds()*1000)
	}
	if ok.Load() != int64(*n) {
		os.Exit(1)
	}
}

// makeBody builds the rest of a message of about size bytes, CRLF
// lines, after the Message-ID header each message gets (msgID).
func makeBody(size int) string {
	var b strings.Builder
	b.WriteString("Subject: load test\r\nFrom: <load@example.org>\r\nTo: <sink@remote.test>\r\n\r\n")
	b.Grow(size)
	size -= len(msgID(0))
	line := strings.Repeat("0123456789abcdef", 4) + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.String()
}

// msgID is the Message-ID header of message k: unique in the run, so a
// sink sees a message the MTA delivered twice as a duplicate.
func msgID(k int) string {
	return fmt.Sprintf("Message-ID: <%08d.%d@load.example.org>\r\n", k, os.Getpid())
}

// tlsConfig is the client side of -tls; nil without it.
var tlsConfig *tls.Config

// lat collects the end-of-DATA-to-250 times.
var lat latencies

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) percentiles() (p50, p99 time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0, 0
	}
	slices.Sort(l.d)
	return l.d[len(l.d)*50/100], l.d[min(len(l.d)*99/100, len(l.d)-1)]
}

// session sends messages first .. first+count-1 on one connection; it
// returns how many were accepted.
func session(addr, from, to, body string, first, count int) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	br := bufio.NewReader(conn)
	if err := expect(br, 220); err != nil {
		return 0, err
	}
	if err := cmd(conn, br, "EHLO load.example.org", 250); err != nil {
		return 0, err
	}
	if tlsConfig != nil {
		if err := cmd(conn, br, "STARTTLS", 220); err != nil {
			return 0, err
		}
		tc := tls.Client(conn, tlsConfig)
		if err := tc.Handshake(); err != nil {
			return 0, err
		}
		conn = tc
		br = bufio.NewReader(conn)
		if err := cmd(conn, br, "EHLO load.example.org", 250); err != nil {
			return 0, err
		}
	}
	sent := 0
	for i := 0; i < count; i++ {
		// Pipelined envelope, as a real bulk sender does.
		fmt.Fprintf(conn, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", from, to)
		for _, want := range []int{250, 250, 354} {
			if err := expect(br, want); err != nil {
				return sent, err
			}
		}
		// After the last message QUIT follows the end of data in the
		// same write (RFC 2920 3.1 allows it as the last command of a
		// group), as Exim does.
		last := i == count-1
		quit := ""
		if last {
			quit = "QUIT\r\n"
		}
		if _, err := conn.Write([]byte(msgID(first+i) + body + ".\r\n" + quit)); err != nil {
			return sent, err
		}
		t0 := time.Now()
		if err := expect(br, 250); err != nil {
			return sent, err
		}
		lat.add(time.Since(t0))
		sent++
		if last {
			_ = expect(br, 221)
		}
	}
	return sent, nil
}

func cmd(conn net.Conn, br *bufio.Reader, line string, want int) error {
	if _, err := conn.Write([]byte(line + "\r\n")); err != nil {
		return err
	}
	return expect(br, want)
}

// expect reads one reply and checks its code.
func expect(br *bufio.Reader, want int) error {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if len(line) < 4 {
			return fmt.Errorf("short reply %q", line)
		}
		if line[3] == '-' {
			continue
		}
		var code int
		fmt.Sscanf(line[:3], "%d", &code)
		if code != want {
			return fmt.Errorf("got %q, want %d", strings.TrimSpace(line), want)
		}
		return nil
	}
}
