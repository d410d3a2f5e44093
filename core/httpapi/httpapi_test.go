package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/control"
	"github.com/moonpost/moonpost/core/queue"
)

const token = "0123456789abcdef-test-token"

type env struct {
	t     *testing.T
	store *queue.Store
	url   string
}

// newEnv serves the API over a real loopback listener, with a real spool,
// cleanup and control server behind it (no queue manager: actions that
// need one answer 503).
func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	adm := &admin.Admin{Store: st}
	srv := &Server{Token: token, Control: &control.Server{Admin: adm}, Admin: adm,
		Submit: &cleanup.Cleanup{Store: st, Hostname: "mx.test"}, MaxBody: 1 << 20,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "moonpost_up 1\n") })}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &env{t: t, store: st, url: ts.URL}
}

// do sends a request with the token (auth "" sends none) and decodes the
// JSON answer into a map.
func (e *env) do(method, path, auth, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), method, e.url+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &m); err != nil {
			e.t.Fatalf("%s %s: answer is not JSON: %v\n%s", method, path, err, b)
		}
	} else {
		m = map[string]any{"raw": string(b)}
	}
	return resp.StatusCode, m
}

func errField(m map[string]any) (code, field string) {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	f, _ := e["field"].(string)
	return c, f
}

func TestAPINeedsTheToken(t *testing.T) {
	e := newEnv(t)
	for _, auth := range []string{"", "wrong-token-wrong-token"} {
		code, m := e.do("GET", "/api/status", auth, "")
		if c, _ := errField(m); code != 401 || c != "unauthorized" {
			t.Errorf("auth %q: %d %v", auth, code, m)
		}
	}
	if code, m := e.do("POST", "/api/inject", "", `{}`); code != 401 {
		t.Errorf("inject without token: %d %v", code, m)
	}
	if code, m := e.do("GET", "/metrics", "", ""); code != 200 || !strings.Contains(m["raw"].(string), "moonpost_up") {
		t.Errorf("/metrics: %d %v", code, m)
	}
	if code, _ := e.do("GET", "/api/status", token, ""); code != 200 {
		t.Errorf("status with the token: %d", code)
	}
	if code, m := e.do("GET", "/api/nothing", token, ""); code != 404 {
		t.Errorf("unknown endpoint: %d %v", code, m)
	}
}

// The answer names a queue ID only once the message is committed.
func TestInjectCommitsBeforeAnswering(t *testing.T) {
	e := newEnv(t)
	code, m := e.do("POST", "/api/inject", token,
		`{"sender": "app@example.org", "recipients": ["bob@example.net", "carol@example.net"], "content": "Subject: hi\n\nhello\n"}`)
	if code != 200 {
		t.Fatalf("inject: %d %v", code, m)
	}
	id := queue.ID(m["id"].(string))
	msg, err := e.store.Read(queue.Incoming, id)
	if err != nil {
		t.Fatalf("answered %s but it is not in incoming/: %v", id, err)
	}
	defer msg.Close()
	if msg.Sender != "app@example.org" || len(msg.Recipients) != 2 || msg.Recipients[1].Addr != "carol@example.net" || msg.Client.Proto != "HTTP" {
		t.Errorf("envelope %+v", msg.Envelope)
	}
	body, _ := io.ReadAll(msg.Open())
	if !strings.Contains(string(body), "Subject: hi\r\n") || !strings.Contains(string(body), "hello\r\n") {
		t.Errorf("content %q", body)
	}
}

func TestInjectBadInputNamesTheField(t *testing.T) {
	e := newEnv(t)
	many := strings.Repeat(`"a@b.example",`, MaxInjectRecipients) + `"a@b.example"`
	for _, tc := range []struct{ body, code, field string }{
		{`{"recipients": ["a@b.example"], "content": "x"}`, "bad_request", "sender"},
		{`{"sender": "bad address", "recipients": ["a@b.example"], "content": "x"}`, "bad_address", "sender"},
		{`{"sender": "", "recipients": [], "content": "x"}`, "bad_request", "recipients"},
		{`{"sender": "", "recipients": ["a@b.example", "nodomain"], "content": "x"}`, "bad_address", "recipients[1]"},
		{`{"sender": "", "recipients": [7], "content": "x"}`, "bad_request", "recipients[0]"},
		{`{"sender": "", "recipients": "a@b.example", "content": "x"}`, "bad_request", "recipients"},
		{`{"sender": "", "recipients": ["a@b.example"]}`, "bad_request", "content"},
		{`{"sender": "", "recipients": ["a@b.example"], "content": "x", "bcc": "y"}`, "unknown_field", "bcc"},
		{`{"sender": "", "recipients": [` + many + `], "content": "x"}`, "too_many_recipients", "recipients"},
		{`{"sender": "", "recipients": ["a@b.example"], "content": "x\u0000y"}`, "bad_content", "content"},
		{`{"sender": `, "bad_json", ""},
		{`{"sender": "", "recipients": ["a@b.example"], "content": "x"} {}`, "bad_request", ""},
	} {
		code, m := e.do("POST", "/api/inject", token, tc.body)
		if c, f := errField(m); code != 400 || c != tc.code || f != tc.field {
			t.Errorf("%.60s: %d %s %q, want 400 %s %q", tc.body, code, c, f, tc.code, tc.field)
		}
	}
	if ents, _ := e.store.List(queue.Incoming); len(ents) != 0 {
		t.Errorf("%d messages queued from bad requests", len(ents))
	}
}

func TestInjectTemplateOneMessagePerRecipient(t *testing.T) {
	e := newEnv(t)
	code, m := e.do("POST", "/api/inject", token, `{"sender": "news@example.org",
		"substitutions": {"list": "News"},
		"recipients": [{"address": "bob@example.net", "substitutions": {"name": "Bob"}},
		               {"address": "carol@example.net", "substitutions": {"name": "Carol"}}],
		"content": "Subject: {{ list }} for {{name}}\n\nDear {{name}},\n"}`)
	if code != 200 {
		t.Fatalf("template inject: %d %v", code, m)
	}
	ids := m["ids"].([]any)
	if len(ids) != 2 {
		t.Fatalf("ids %v", ids)
	}
	for i, who := range []string{"Bob", "Carol"} {
		msg, err := e.store.Read(queue.Incoming, queue.ID(ids[i].(string)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(msg.Open())
		msg.Close()
		if want := fmt.Sprintf("Subject: News for %s\r\n", who); !strings.Contains(string(body), want) || !strings.Contains(string(body), "Dear "+who+",") {
			t.Errorf("message %d: %q", i, body)
		}
		if len(msg.Recipients) != 1 {
			t.Errorf("message %d has %d recipients", i, len(msg.Recipients))
		}
	}
	code, m = e.do("POST", "/api/inject", token, `{"sender": "", "recipients": [{"address": "bob@example.net", "substitutions": {"name": "Bob"}},
		{"address": "carol@example.net", "substitutions": {"nom": "Carol"}}], "content": "Subject: {{name}}\n\nx\n"}`)
	if c, f := errField(m); code != 400 || c != "missing_substitution" || f != "recipients[1]" {
		t.Errorf("missing substitution: %d %v", code, m)
	}
}

func TestQueueListShowAndActions(t *testing.T) {
	e := newEnv(t)
	_, m := e.do("POST", "/api/inject", token, `{"sender": "app@example.org", "recipients": ["bob@example.net"], "content": "Subject: listed\n\nx\n"}`)
	id := m["id"].(string)
	code, m := e.do("GET", "/api/queue?state=incoming&rcpt_domain=example.net", token, "")
	if code != 200 {
		t.Fatalf("list: %d %v", code, m)
	}
	req, _ := http.NewRequest("GET", e.url+"/api/queue?state=incoming", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list []admin.Entry
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list) != 1 || string(list[0].ID) != id {
		t.Fatalf("list %+v", list)
	}
	if code, m := e.do("GET", "/api/queue?colour=red", token, ""); code != 400 {
		t.Errorf("unknown filter key: %d %v", code, m)
	} else if _, f := errField(m); f != "colour" {
		t.Errorf("unknown filter key names %q", f)
	}
	if code, m := e.do("GET", "/api/queue/"+id, token, ""); code != 200 || !strings.Contains(fmt.Sprint(m["headers"]), "listed") {
		t.Errorf("show: %d %v", code, m)
	}
	if code, _ := e.do("GET", "/api/queue/0123456789ABCDEF01", token, ""); code != 404 {
		t.Errorf("show of a missing ID: %d", code)
	}
	if code, _ := e.do("GET", "/api/queue/..%2Fetc", token, ""); code != 400 && code != 404 {
		t.Errorf("show of a bad ID: %d", code)
	}
	if code, m := e.do("POST", "/api/queue/hold", token, `{"ids": ["`+id+`"], "reason": "check"}`); code != 503 {
		t.Errorf("hold without a queue manager: %d %v", code, m)
	}
	if code, m := e.do("POST", "/api/queue/hold", token, `{}`); code != 400 {
		t.Errorf("hold naming nothing: %d %v", code, m)
	}
	if code, m := e.do("POST", "/api/queue/hold", token, `{"filter": {"state": ["incoming"], "sendr": "x"}}`); code != 400 {
		t.Errorf("filter with a typo: %d %v", code, m)
	}
	if code, m := e.do("POST", "/api/queue/explode", token, `{}`); code != 404 {
		t.Errorf("unknown action: %d %v", code, m)
	}
	if code, m := e.do("GET", "/api/queue/stats", token, ""); code != 200 {
		t.Errorf("stats: %d %v", code, m)
	}
}

func TestRequestBodyLimit(t *testing.T) {
	e := newEnv(t)
	big := `{"sender": "", "recipients": ["a@b.example"], "content": "` + strings.Repeat("x", 2<<20) + `"}`
	if code, m := e.do("POST", "/api/inject", token, big); code != 413 {
		t.Errorf("oversized body: %d %v", code, m)
	}
}
