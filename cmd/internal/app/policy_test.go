package app

import (
	"context"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/queue"
)

// TestPolicySamplesFromTheQueue: without sample lines, policy diff runs
// over the pending recipients of the queued messages.
func TestPolicySamplesFromTheQueue(t *testing.T) {
	store, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clean := &cleanup.Cleanup{Store: store, Hostname: "mx.test"}
	env := &queue.Envelope{Sender: "s@x.test", Recipients: []queue.Recipient{{Addr: "a@y.test"}, {Addr: "b@z.test"}}}
	id, err := clean.Submit(context.Background(), env, strings.NewReader("Subject: t\r\n\r\nhi\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := policySamples(context.Background(), &admin.Admin{Store: store}, nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("%+v, %v", got, err)
	}
	if s := got[0]; s.ID != string(id) || s.Sender != "s@x.test" || strings.Join(s.Rcpts, " ") != "a@y.test b@z.test" || s.Size == 0 {
		t.Errorf("sample %+v", s)
	}
	got, err = policySamples(context.Background(), &admin.Admin{Store: store}, []string{"<> c@w.test"})
	if err != nil || len(got) != 1 || got[0].Rcpts[0] != "c@w.test" {
		t.Errorf("sample lines: %+v, %v", got, err)
	}
}
