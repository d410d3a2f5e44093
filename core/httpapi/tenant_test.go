package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/queue"
)

// GET /api/queue?tenant=NAME lists that tenant's messages; a name that
// cannot be a tenant is a 400 naming the key.
func TestQueueListByTenant(t *testing.T) {
	e := newEnv(t)
	cl := &cleanup.Cleanup{Store: e.store, Hostname: "mx.test"}
	var acme queue.ID
	for _, tenant := range []string{"acme", "globex", ""} {
		env := &queue.Envelope{Sender: "app@example.org", Tenant: tenant, Recipients: []queue.Recipient{{Addr: "bob@example.net"}}}
		id, err := cl.Submit(context.Background(), env, strings.NewReader("Subject: x\r\n\r\nx\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if tenant == "acme" {
			acme = id
		}
	}
	req, _ := http.NewRequest("GET", e.url+"/api/queue?tenant=acme", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list []admin.Entry
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(list) != 1 || list[0].ID != acme || list[0].Tenant != "acme" {
		t.Fatalf("tenant=acme: %d %+v", resp.StatusCode, list)
	}
	if code, m := e.do("GET", "/api/queue?tenant=a%20b", token, ""); code != 400 {
		t.Errorf("bad tenant: %d %v", code, m)
	}
}

// POST /api/inject with "tenant" queues the message in that tenant; a
// bad name is refused before anything is queued.
func TestInjectWithTenant(t *testing.T) {
	e := newEnv(t)
	code, m := e.do("POST", "/api/inject", token, `{"sender": "app@example.org", "recipients": ["bob@example.net"], "content": "Subject: x\n\nx\n", "tenant": "acme"}`)
	if code != 200 {
		t.Fatalf("inject: %d %v", code, m)
	}
	msg, err := e.store.Read(queue.Incoming, queue.ID(m["id"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	defer msg.Close()
	if msg.Tenant != "acme" {
		t.Errorf("queued tenant %q", msg.Tenant)
	}
	code, m = e.do("POST", "/api/inject", token, `{"sender": "app@example.org", "recipients": ["bob@example.net"], "content": "x", "tenant": "a,b"}`)
	if c, f := errField(m); code != 400 || c != "bad_tenant" || f != "tenant" {
		t.Errorf("bad tenant: %d %v", code, m)
	}
	if ents, _ := e.store.List(queue.Incoming); len(ents) != 1 {
		t.Errorf("%d messages queued", len(ents))
	}
}
