package admin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
)

// addTenant queues a message of tenant into incoming/.
func (f *fixture) addTenant(tenant string, rcpts ...string) queue.ID {
	f.t.Helper()
	f.n++
	env := &queue.Envelope{Sender: "s@a.test", Tenant: tenant}
	for _, r := range rcpts {
		env.Recipients = append(env.Recipients, queue.Recipient{Addr: r})
	}
	id, err := f.clean.Submit(context.Background(), env, strings.NewReader("Subject: hi\r\n\r\nbody\r\n"))
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// The tenant filter selects a tenant's messages for listing and for
// actions; entries and messages name their tenant.
func TestTenantFilter(t *testing.T) {
	f := newFixture(t)
	a := f.addTenant("acme", "u@x.test")
	f.addTenant("globex", "v@x.test")
	c := f.addTenant("acme", "w@y.test")
	f.addTenant("", "z@x.test")
	ents, err := f.adm.List(context.Background(), compile(t, "tenant", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 || ents[0].ID != a || ents[1].ID != c || ents[0].Tenant != "acme" {
		t.Fatalf("tenant=acme: %+v", ents)
	}
	if ents, _ := f.adm.List(context.Background(), compile(t, "tenant", "acme", "rcpt_domain", "y.test")); len(ents) != 1 || ents[0].ID != c {
		t.Fatalf("tenant and domain: %+v", ents)
	}
	if ents, _ := f.adm.List(context.Background(), Filter{}); len(ents) != 4 {
		t.Fatalf("no filter: %d entries", len(ents))
	}
	r, err := f.adm.Do(context.Background(), qmgr.OpHold, Selection{Filter: compile(t, "tenant", "globex")}, "", true)
	if err != nil || r.Count != 1 {
		t.Fatalf("dry-run hold of a tenant: %+v, %v", r, err)
	}
	m, err := f.adm.Get(a, 0)
	if err != nil || m.Tenant != "acme" {
		t.Fatalf("get: %+v, %v", m, err)
	}
	b, _ := json.Marshal(m)
	if !strings.Contains(string(b), `"tenant":"acme"`) {
		t.Errorf("JSON view lacks the tenant: %s", b)
	}
	msg, err := f.store.Read(queue.Incoming, c)
	if err != nil {
		t.Fatal(err)
	}
	defer msg.Close()
	flt := compile(t, "tenant", "acme")
	other := compile(t, "tenant", "globex")
	if !flt.Matches(msg, t0) || other.Matches(msg, t0) {
		t.Error("Matches disagrees with the tenant")
	}
}

func TestTenantFilterIsChecked(t *testing.T) {
	for _, bad := range []string{"a b", "a,b", strings.Repeat("t", queue.MaxTenantLen+1)} {
		if _, err := (Spec{Tenant: bad}).Compile(); err == nil || !strings.Contains(err.Error(), "tenant") {
			t.Errorf("tenant %q: %v", bad, err)
		}
	}
}
