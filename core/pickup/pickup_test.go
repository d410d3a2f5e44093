package pickup

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/queue"
)

func setup(t testing.TB) (*Service, chan queue.ID) {
	t.Helper()
	st, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ids := make(chan queue.ID, 16)
	cl := &cleanup.Cleanup{Store: st, Hostname: "host.example", Rewriter: cleanup.AppendOrigin{Origin: "example.com"},
		Notify: func(id queue.ID) { ids <- id }}
	return &Service{Store: st, Cleanup: cl, MaxSize: 1 << 20}, ids
}

func post(t testing.TB, s *Service, env *queue.Envelope, body string) queue.ID {
	t.Helper()
	id, err := Post(s.Store.Root(), env, strings.NewReader(body), 0)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPostThenPick(t *testing.T) {
	s, ids := setup(t)
	id := post(t, s, &queue.Envelope{Sender: "alice", FullName: "Alice Liddell",
		Recipients: []queue.Recipient{{Addr: "bob"}}}, "Subject: hi\n\nhello\n")
	s.Scan(context.Background())
	if _, err := os.Stat(s.Store.Path(queue.Maildrop, id)); !os.IsNotExist(err) {
		t.Fatal("maildrop file not removed")
	}
	newID := <-ids
	m, err := s.Store.Read(queue.Incoming, newID)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, _ := io.ReadAll(m.Open())
	if m.Sender != "alice@example.com" || m.Recipients[0].Addr != "bob@example.com" || m.Client.Proto != "LOCAL" {
		t.Errorf("envelope %+v", m.Envelope)
	}
	if !strings.Contains(string(b), "From: \"Alice Liddell\" <alice@example.com>\r\n") {
		t.Errorf("content %q", b)
	}
}

func TestExtractFromHeader(t *testing.T) {
	s, ids := setup(t)
	post(t, s, &queue.Envelope{Sender: "alice", ExtractRcpts: true}, "To: carol@example.net\nSubject: t\n\nhi\n")
	s.Scan(context.Background())
	m, err := s.Store.Read(queue.Incoming, <-ids)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Recipients) != 1 || m.Recipients[0].Addr != "carol@example.net" {
		t.Errorf("recipients %+v", m.Recipients)
	}
}

func TestHostileMaildropFiles(t *testing.T) {
	s, _ := setup(t)
	dir := filepath.Join(s.Store.Root(), "maildrop")
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("root:x:0:0"), 0o600)
	bad := map[string]func(queue.ID){
		"symlink":   func(id queue.ID) { os.Symlink(secret, filepath.Join(dir, string(id))) },
		"garbage":   func(id queue.ID) { os.WriteFile(filepath.Join(dir, string(id)), []byte("HELO evil\n"), 0o600) },
		"directory": func(id queue.ID) { os.Mkdir(filepath.Join(dir, string(id)), 0o700) },
	}
	for name, make := range bad {
		id := queue.NewID(time.Now())
		make(id)
		s.Pick(context.Background(), id)
		if _, err := os.Lstat(filepath.Join(dir, string(id))); err == nil && name != "directory" {
			t.Errorf("%s: left in maildrop", name)
		}
	}
	// Envelope values that escape into CR/LF, and too many recipients.
	crlf := post(t, s, &queue.Envelope{Sender: "a\r\nRCPT TO:<x>", Recipients: []queue.Recipient{{Addr: "b@x"}}}, "x")
	s.MaxRcpts = 2
	many := post(t, s, &queue.Envelope{Sender: "a", Recipients: []queue.Recipient{{Addr: "b"}, {Addr: "c"}, {Addr: "d"}}}, "x")
	s.MaxSize = 10
	big := post(t, s, &queue.Envelope{Sender: "a", Recipients: []queue.Recipient{{Addr: "b"}}}, strings.Repeat("x", 11))
	s.Scan(context.Background())
	for _, id := range []queue.ID{crlf, many, big} {
		if _, err := os.Stat(s.Store.Path(queue.Corrupt, id)); err != nil {
			t.Errorf("%s not quarantined: %v", id, err)
		}
	}
	if ents, _ := s.Store.List(queue.Incoming); len(ents) != 0 {
		t.Errorf("hostile files reached incoming: %v", ents)
	}
	if _, err := os.Stat(secret); err != nil {
		t.Error("symlink target touched")
	}
}

func TestRunWakesOnNewFile(t *testing.T) {
	s, ids := setup(t)
	s.ScanInterval = time.Hour // only fsnotify can deliver within the test
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// Run scans once at start; post after a short wait so the watcher sees the file arrive.
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		post(t, s, &queue.Envelope{Sender: "a", Recipients: []queue.Recipient{{Addr: "b"}}}, "x")
		select {
		case <-ids:
			return
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("pickup did not wake on a new maildrop file")
		}
		if i > 40 {
			t.Fatal("bounded loop exhausted")
		}
	}
}

// A symlink (or any non-regular file) named like a queue file is never
// followed and never left behind: it used to be skipped silently by
// every scan, forever.
func TestNonRegularMaildropEntriesQuarantined(t *testing.T) {
	s, _ := setup(t)
	target := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(target, []byte("not mail"), 0o600)
	now := time.Now()
	link, dir := queue.NewID(now), queue.NewID(now.Add(time.Microsecond))
	if err := os.Symlink(target, s.Store.Path(queue.Maildrop, link)); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(s.Store.Path(queue.Maildrop, dir), 0o700)
	s.Scan(context.Background())
	for _, id := range []queue.ID{link, dir} {
		if _, err := os.Lstat(s.Store.Path(queue.Maildrop, id)); !os.IsNotExist(err) {
			t.Errorf("%s still in maildrop/", id)
		}
		if _, err := os.Lstat(s.Store.Path(queue.Corrupt, id)); err != nil {
			t.Errorf("%s not in corrupt/: %v", id, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "not mail" {
		t.Errorf("symlink target changed: %q", b)
	}
}
