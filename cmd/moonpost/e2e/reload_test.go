package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

func TestMain(m *testing.M) { e2e.Main(m) }

const goodScript = `local version = %q
mta.on("alias", function(l, d)
  if l:match("^load") then return {version} end
end)
mta.on("cleanup", function(msg) msg:add_header("X-Policy-Version", version) end)
`

const brokenScript = `local version = %q
mta.on("alias", function(l, d)   -- the "end" is missing
`

// writeScript saves a script the way editors do: a temporary file
// renamed over the old one, or, every other time, written in place.
func writeScript(t *testing.T, d *e2e.Daemon, body string, inPlace bool) {
	path := d.Path("scripts", "50-version.lua")
	if inPlace {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Error(err)
		}
		return
	}
	tmp := d.Path("scripts", ".50-version.lua.swp")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Error(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Error(err)
	}
}

// TestReloadUnderLoad sends mail from several clients while the policy is
// rewritten many times, good and broken versions alternating. Every
// message must be accepted and delivered once, to the mailbox of exactly
// one version that was live (never a broken one).
func TestReloadUnderLoad(t *testing.T) {
	d := e2e.Setup(t, "testdata/reload")
	d.Start()
	// Saves are spaced beyond the 100 ms debounce, else a burst of saves
	// is (rightly) one reload.
	const clients, versions, spacing = 4, 20, 150 * time.Millisecond
	var sent atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for v := 1; v <= versions; v++ {
			writeScript(t, d, fmt.Sprintf(brokenScript, fmt.Sprintf("bad%d", v)), v%2 == 0)
			time.Sleep(spacing)
			writeScript(t, d, fmt.Sprintf(goodScript, fmt.Sprintf("v%d", v)), v%2 == 1)
			time.Sleep(spacing)
		}
		close(stop)
	}()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			conn := e2e.Dial(t, d.Addr)
			conn.Expect("EHLO load.test", 250)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				rcpt := fmt.Sprintf("load%d-%d@mx.test", c, i)
				if code, text := conn.Send("sender@remote.test", []string{rcpt}, "Subject: load\n\nx\n"); code != 250 {
					t.Errorf("%s: %d %s", rcpt, code, text)
				}
				sent.Add(1)
				time.Sleep(10 * time.Millisecond)
			}
		}(c)
	}
	wg.Wait()
	total := int(sent.Load())
	boxes := waitDelivered(t, d, total)
	for box, n := range boxes {
		if !regexp.MustCompile(`^v[0-9]+$`).MatchString(box) {
			t.Errorf("%d messages in mailbox %q: not a good version", n, box)
		}
	}
	loaded := strings.Count(d.Logs(), `msg="scripts loaded"`)
	rejected := strings.Count(d.Logs(), `msg="scripts rejected; previous generation stays"`)
	t.Logf("%d messages over %d mailboxes; %d generations loaded, %d broken versions rejected", total, len(boxes), loaded, rejected)
	if loaded < 10 || rejected < 10 {
		t.Errorf("too few reloads seen: %d loaded, %d rejected", loaded, rejected)
	}
}

// waitDelivered waits until n messages sit in the mailboxes and returns
// the count per mailbox; each message must carry one X-Policy-Version.
func waitDelivered(t *testing.T, d *e2e.Daemon, n int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		files, _ := filepath.Glob(d.Path("spool", "mail", "*", "new", "*"))
		if len(files) >= n {
			boxes := map[string]int{}
			for _, f := range files {
				b, _ := os.ReadFile(f)
				if c := strings.Count(string(b), "X-Policy-Version:"); c != 1 {
					t.Errorf("%s: %d X-Policy-Version fields", f, c)
				}
				boxes[filepath.Base(filepath.Dir(filepath.Dir(f)))]++
			}
			if len(files) > n {
				t.Errorf("%d messages delivered, %d sent", len(files), n)
			}
			return boxes
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages delivered; queue: incoming %v deferred %v", len(files), n, d.Queued("incoming"), d.Queued("deferred"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReloadLatency measures the time from saving a script to the log
// line of the new generation.
func TestReloadLatency(t *testing.T) {
	d := e2e.Setup(t, "testdata/reload")
	d.Start()
	var lat []time.Duration
	for v := 1; v <= 10; v++ {
		start := time.Now()
		writeScript(t, d, fmt.Sprintf(goodScript, fmt.Sprintf("v%d", v)), false)
		d.WaitLog(fmt.Sprintf(`msg="scripts loaded" component=hooks generation=%d `, v+1), 1)
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("reload latency (save -> new generation logged) over %d saves: min %v, median %v, max %v",
		len(lat), lat[0], lat[len(lat)/2], lat[len(lat)-1])
	if lat[len(lat)-1] > time.Second {
		t.Errorf("a reload took %v, over a second", lat[len(lat)-1])
	}
	// The next message uses the new policy.
	e2e.Mail(t, d.Addr, "s@remote.test", []string{"load-after@mx.test"}, "Subject: x\n\ny\n")
	d.WaitMaildir("spool/mail/v10", 1)
}
