package cleanup

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

type fakeHandoff struct {
	room     int
	reserved int
	adopted  []*queue.Message
}

func (f *fakeHandoff) Reserve() bool {
	if f.room == 0 {
		return false
	}
	f.room--
	f.reserved++
	return true
}
func (f *fakeHandoff) Unreserve()               { f.room++; f.reserved-- }
func (f *fakeHandoff) Adopt(msg *queue.Message) { f.adopted = append(f.adopted, msg) }

func TestHandoffCommitsIntoActive(t *testing.T) {
	c, notified := setup(t)
	h := &fakeHandoff{room: 1}
	c.Handoff = h
	id, err := c.Submit(context.Background(), env("bob@example.net"), strings.NewReader("Subject: one\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.adopted) != 1 || len(*notified) != 0 {
		t.Fatalf("adopted %d, announced %v", len(h.adopted), *notified)
	}
	m := h.adopted[0]
	defer m.Close()
	if m.ID != id || m.State != queue.Active || m.Recipients[0].Addr != "bob@example.net" {
		t.Fatalf("handed over %s in %s: %+v", m.ID, m.State, m.Recipients)
	}
	body, _ := io.ReadAll(m.Open())
	if !strings.Contains(string(body), "Subject: one\r\n") || !strings.HasSuffix(string(body), "\r\nbody\r\n") {
		t.Fatalf("content %q", body)
	}
	if _, content := stored(t, c, queue.Active, id); content != string(body) {
		t.Fatal("the file in active/ differs from what was handed over")
	}

	// No room: through incoming/ as before.
	id2, err := c.Submit(context.Background(), env("carol@example.net"), strings.NewReader("Subject: two\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.adopted) != 1 || len(*notified) != 1 || (*notified)[0] != id2 {
		t.Fatalf("adopted %d, announced %v", len(h.adopted), *notified)
	}
	stored(t, c, queue.Incoming, id2)

	// Held mail never goes to the active set.
	h.room = 1
	c.Policy = &fakePolicy{verdict: policy.Verdict{Action: policy.Hold}}
	id3, err := c.Submit(context.Background(), env("dave@example.net"), strings.NewReader("Subject: three\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.adopted) != 1 || h.reserved != 1 {
		t.Fatalf("held mail handed over (%d adopted, %d reserved)", len(h.adopted), h.reserved)
	}
	stored(t, c, queue.Hold, id3)
}
