package queue

import (
	"bytes"
	"syscall"
	"testing"
	"time"
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

// BenchmarkCommitReuse is the daemon's steady state: every new message
// is written into the spare file of one just delivered. cpu-us/op is
// the process's CPU time (user and system) per message.
func BenchmarkCommitReuse(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n"), 16)
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.KeepSpares(64); err != nil {
		b.Fatal(err)
	}
	cycle := func(i int) {
		env := &Envelope{Sender: "a@example.org", Recipients: []Recipient{{Addr: "b@example.org"}}}
		w, err := s.Create(Incoming, env, 0)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(body[:len(body)-i%7]) // lengths vary a little, as real ones do
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		m, err := s.Read(Incoming, w.ID())
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Remove(); err != nil {
			b.Fatal(err)
		}
		m.Close()
	}
	for i := 0; i < 20; i++ {
		cycle(i)
	}
	b.SetBytes(int64(len(body)))
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cycle(i)
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
}
