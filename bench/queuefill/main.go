// Command queuefill fills a spool with N deferred messages (next attempt
// in the future), for measuring what a large queue costs: `moonpost
// queue list`, the deferred scan, and the daemon's memory. It writes
// through the queue package, so the files are exactly what the daemon
// writes.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/moonpost/moonpost/core/queue"
)

func main() {
	spool := flag.String("spool", "spool", "spool directory")
	n := flag.Int("n", 100000, "messages to create")
	writers := flag.Int("writers", 64, "concurrent writers (commits share syncs)")
	domains := flag.Int("domains", 50, "distinct recipient domains")
	flag.Parse()
	st, err := queue.Open(*spool, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "queuefill:", err)
		os.Exit(1)
	}
	defer st.Close()
	if err := st.UseSyncfs(); err != nil {
		fmt.Fprintln(os.Stderr, "queuefill:", err)
		os.Exit(1)
	}
	body := "Subject: queued\r\nFrom: <a@example.org>\r\n\r\n" + strings.Repeat("x", 900) + "\r\n"
	next := time.Now().Add(time.Hour)
	start := time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < *writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := fill(st, i, *domains, body, next); err != nil {
					fmt.Fprintln(os.Stderr, "queuefill:", err)
					os.Exit(1)
				}
			}
		}()
	}
	for i := 0; i < *n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	fmt.Printf("created=%d seconds=%.1f\n", *n, time.Since(start).Seconds())
}

// fill writes one deferred message with a recorded attempt and reason.
func fill(st *queue.Store, i, domains int, body string, next time.Time) error {
	env := &queue.Envelope{Sender: "sender@example.org",
		Recipients: []queue.Recipient{{Addr: fmt.Sprintf("user%d@d%d.example", i, i%domains)}}}
	w, err := st.Create(queue.Deferred, env, 0)
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		w.Abort()
		return err
	}
	if err := w.Commit(); err != nil {
		return err
	}
	m, err := st.Read(queue.Deferred, w.ID())
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Append(queue.RcptDeferred(0, "451 4.4.1 connection refused"), queue.Attempt(1, next)); err != nil {
		return err
	}
	return st.SetNextAttempt(queue.Deferred, w.ID(), next)
}
