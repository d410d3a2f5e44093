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
	seeds, _ := setup(f)
	valid := post(f, seeds, &queue.Envelope{Sender: "alice", Recipients: []queue.Recipient{{Addr: "bob"}}}, "Subject: hi\n\nhello\n")
	b, err := os.ReadFile(seeds.Store.Path(queue.Maildrop, valid))
	if err != nil {
		f.Fatal(err)
	}
	os.Remove(seeds.Store.Path(queue.Maildrop, valid))
	f.Add(b)
	f.Add([]byte("moonpost-queue 1\n"))
	f.Add([]byte{})
	// One store for every input (a new one each made an input cost a
	// directory tree and its fsyncs); each input's outcome is removed.
	s, ids := setup(f)
	f.Fuzz(func(t *testing.T, data []byte) {
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
		case queued := <-ids:
			os.Remove(s.Store.Path(queue.Incoming, queued))
		default:
			quarantined := filepath.Join(s.Store.Root(), "corrupt", string(id))
			if _, err := os.Stat(quarantined); err != nil {
				t.Fatalf("maildrop file neither queued nor quarantined: %v", err)
			}
			os.Remove(quarantined)
		}
	})
}
