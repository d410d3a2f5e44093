package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const httpToken = "t20-token-0123456789abcdef"

// httpDaemon runs a daemon with the [http] listener and a token file.
func httpDaemon(t *testing.T) (d *daemon, base string) {
	t.Helper()
	addr := freePort(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(httpToken+"\n"), 0o600)
	d = newDaemon(t, fmt.Sprintf("[http]\nlisten = [%q]\ntoken_file = %q\n", addr, tokenFile))
	d.start()
	d.waitLog("http listening", 1)
	return d, "http://" + addr
}

func httpDo(t *testing.T, method, url, body string, auth bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if auth {
		req.Header.Set("Authorization", "Bearer "+httpToken)
	}
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Scenario 20: mail injected over the HTTP API is delivered; the API
// answers with the queue ID, lists the queue with the REPL's filters, and
// /metrics counts the delivery in a form promtool accepts.
func TestT20InjectOverHTTPAndScrapeMetrics(t *testing.T) {
	d, base := httpDaemon(t)
	if code, _ := httpDo(t, "POST", base+"/api/inject", `{}`, false); code != 401 {
		t.Fatalf("inject without the token: %d", code)
	}
	code, body := httpDo(t, "POST", base+"/api/inject",
		`{"sender": "app@example.org", "recipients": ["postmaster@local.test"], "content": "Subject: t20\n\nover http\n"}`, true)
	if code != 200 {
		t.Fatalf("inject: %d %s", code, body)
	}
	var ans struct{ ID string }
	json.Unmarshal([]byte(body), &ans)
	d.waitLog(ans.ID+": removed", 1)
	box := d.mailbox("postmaster")
	if len(box) != 1 || !strings.Contains(box[0], "over http") {
		t.Fatalf("postmaster's mailbox %q", box)
	}
	if code, body := httpDo(t, "GET", base+"/api/queue?state=deferred", "", true); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("queue list: %d %s", code, body)
	}
	if code, body := httpDo(t, "GET", base+"/api/status", "", true); code != 200 || !strings.Contains(body, `"listeners"`) {
		t.Errorf("status: %d %s", code, body)
	}
	code, text := httpDo(t, "GET", base+"/metrics", "", false)
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`moonpost_deliveries_total{status="sent",transport="local"} 1`,
		`moonpost_messages_received_total{origin="http"} 1`,
		`moonpost_queue_messages{queue="deferred"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("SKIP: promtool not installed (Debian package prometheus; .ci/install-deps installs it) — metrics format not checked")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
