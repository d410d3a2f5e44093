package pickup

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/queue"
)

// FuzzPick feeds arbitrary bytes to pickup as a maildrop file, the one
// queue file a local user writes. Whatever the bytes, pickup must not
// panic, and the file must leave maildrop/: queued, or quarantined in
// corrupt/ (never deleted unread, never left to be retried forever).
func FuzzPick(f *testing.F) {
	s, _ := setup(f)
	valid := post(f, s, &queue.Envelope{Sender: "alice", Recipients: []queue.Recipient{{Addr: "bob"}}}, "Subject: hi\n\nhello\n")
	b, err := os.ReadFile(s.Store.Path(queue.Maildrop, valid))
	if err != nil {
		f.Fatal(err)
	}
	os.Remove(s.Store.Path(queue.Maildrop, valid))
	f.Add(b)
	f.Add([]byte("moonpost-queue 1\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, ids := setup(t)
		id := queue.NewID(time.Now())
		path := s.Store.Path(queue.Maildrop, id)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s.Pick(context.Background(), id)
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("maildrop file %s still there after pickup", id)
		}
		select {
		case <-ids: // queued
		default:
			if _, err := os.Stat(filepath.Join(s.Store.Root(), "corrupt", string(id))); err != nil {
				t.Fatalf("maildrop file neither queued nor quarantined: %v", err)
			}
		}
	})
}
