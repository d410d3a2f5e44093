package cleanup

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/queue"
)

type textContent string

func (t textContent) Open() io.Reader { return strings.NewReader(string(t)) }
func (t textContent) Size() int64     { return int64(len(t)) }

// The tenant is stored with the message, announced to NotifyTenant in
// preference to Notify, and kept by an alias expansion.
func TestTenantStoredAnnouncedAndForwarded(t *testing.T) {
	c, notified := setup(t)
	var announced []string
	c.NotifyTenant = func(id queue.ID, tenant string) { announced = append(announced, string(id)+" "+tenant) }
	e := env("bob@example.org")
	e.Tenant = "acme"
	id, err := c.Submit(context.Background(), e, strings.NewReader("Subject: t\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := stored(t, c, queue.Incoming, id); m.Tenant != "acme" {
		t.Errorf("stored tenant %q", m.Tenant)
	}
	if len(announced) != 1 || announced[0] != string(id)+" acme" || len(*notified) != 0 {
		t.Errorf("announced %v, notified %v", announced, *notified)
	}

	req := &deliver.Request{Sender: "alice@example.org", Tenant: "acme", Content: textContent("Subject: t\r\n\r\nbody\r\n")}
	if err := (Forwarder{Cleanup: c}).Forward(context.Background(), req, deliver.Recipient{Addr: "team@example.org"}, []string{"carol@example.net"}); err != nil {
		t.Fatal(err)
	}
	if len(announced) != 2 {
		t.Fatalf("announced %v", announced)
	}
	fwd := queue.ID(strings.Fields(announced[1])[0])
	if m, _ := stored(t, c, queue.Incoming, fwd); m.Tenant != "acme" || m.Recipients[0].Addr != "carol@example.net" {
		t.Errorf("forwarded: tenant %q, recipients %+v", m.Tenant, m.Recipients)
	}

	c.NotifyTenant = nil // Notify alone still hears of new mail
	id, err = c.Submit(context.Background(), env("dave@example.org"), strings.NewReader("Subject: t\r\n\r\nbody\r\n"))
	if err != nil || len(*notified) != 1 || (*notified)[0] != id {
		t.Errorf("Notify: %v, notified %v", err, *notified)
	}
}
