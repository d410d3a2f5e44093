package queue

import (
	"bytes"
	"testing"
)

// BenchmarkCommit measures one message's commit (create, write, name,
// fsync, directory fsync) by 1 writer and by 20 at once, as smtpd
// sessions do. It runs in the temporary directory's file system, so the
// figure is that disk's.
func BenchmarkCommit(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n"), 16)
	commit := func(b *testing.B, s *Store) bool {
		w, err := s.Create(Incoming, &Envelope{Sender: "a@example.org", Recipients: []Recipient{{Addr: "b@example.org"}}}, 0)
		if err == nil {
			_, err = w.Write(body)
		}
		if err == nil {
			err = w.Commit()
		}
		if err != nil {
			b.Error(err)
			return false
		}
		return true
	}
	open := func(b *testing.B) *Store {
		s, err := Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		b.SetBytes(int64(len(body)))
		return s
	}
	b.Run("writers=1", func(b *testing.B) {
		s := open(b)
		for i := 0; i < b.N; i++ {
			if !commit(b, s) {
				return
			}
		}
	})
	b.Run("writers=20", func(b *testing.B) {
		s := open(b)
		b.SetParallelism(10) // 20 writers with GOMAXPROCS=2
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !commit(b, s) {
					return
				}
			}
		})
	})
}
