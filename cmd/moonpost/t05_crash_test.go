package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Scenario 5: SIGKILL while clients are sending. Every message that got
// a 250 is in the queue exactly once after a restart, none is corrupt,
// and no uncommitted temp file survives recovery. Delivery goes to a
// closed port so that everything stays queued and can be counted.
func TestT05CrashWhileReceiving(t *testing.T) {
	closed := freePort(t)
	d := newDaemon(t, fmt.Sprintf("relayhost = \"[%s]\"\n[smtp]\ntls = \"none\"\nconnect_timeout = \"1s\"", closed))
	acked := map[string]bool{}
	var mu sync.Mutex
	for round := 0; round < 3; round++ {
		d.start()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id, ok := sendOne(d.addr, fmt.Sprintf("r%d-w%d-%d", round, w, i))
					if !ok {
						return // the daemon died under us
					}
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}(w)
		}
		time.Sleep(time.Duration(150+100*round) * time.Millisecond)
		d.kill()
		close(stop)
		wg.Wait()
	}
	d.start() // recovery runs at start
	d.stop()
	found := map[string]int{}
	for _, st := range []string{"incoming", "active", "deferred", "hold", "maildrop"} {
		for _, p := range d.queued(st) {
			found[filepath.Base(p)]++
		}
	}
	if n := len(d.queued("corrupt")); n != 0 {
		t.Errorf("%d corrupt files", n)
	}
	missing := 0
	for id := range acked {
		switch found[id] {
		case 1:
		case 0:
			missing++
		default:
			t.Errorf("%s queued %d times", id, found[id])
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged messages missing", missing, len(acked))
	}
	temps, _ := filepath.Glob(filepath.Join(d.dir, "spool", "*", ".*.tmp"))
	if len(temps) > 0 {
		t.Errorf("temp files survived recovery: %v", temps)
	}
	if len(acked) < 10 {
		t.Fatalf("only %d messages acknowledged; the test did not exercise anything", len(acked))
	}
	t.Logf("%d messages acknowledged across 3 kills, all queued exactly once", len(acked))
}

// sendOne runs one transaction on a fresh connection and returns the
// queue ID from the 250 reply; ok is false if the server went away.
func sendOne(addr, tag string) (string, bool) {
	c, err := dialQuiet(addr)
	if err != nil {
		return "", false
	}
	defer c.Close()
	lines := []string{"EHLO load.test", "MAIL FROM:<load@example.org>", "RCPT TO:<sink@remote.test>", "DATA"}
	for _, l := range lines {
		if _, err := c.cmd(l); err != nil {
			return "", false
		}
	}
	code, text, err := c.data("Subject: " + tag + "\r\n\r\n" + strings.Repeat("0123456789abcdef", 64))
	if err != nil || code != 250 {
		return "", false
	}
	return queuedID(text), true
}
