package pickup

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/internal/testlog"
	"github.com/moonpost/moonpost/core/queue"
)

func setup(t testing.TB) (*Service, chan queue.ID) {
	t.Helper()
	st, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.SweepStrays() // as the daemon does
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

// TestOddMaildropEntriesOnce: every kind of entry that is not a regular
// file, under a queue-ID name, leaves maildrop/ for corrupt/ with one
// log line and is never opened; a name that is not a queue ID is logged
// once, however many scans meet it. Mail beside them is picked up.
func TestOddMaildropEntriesOnce(t *testing.T) {
	log, buf := testlog.New(slog.LevelInfo)
	st, err := queue.Open(t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.SweepStrays()
	ids := make(chan queue.ID, 16)
	s := &Service{Store: st, Log: log, Cleanup: &cleanup.Cleanup{Store: st, Hostname: "host.example",
		Rewriter: cleanup.AppendOrigin{Origin: "example.com"}, Notify: func(id queue.ID) { ids <- id }}}
	target := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(target, []byte("not mail"), 0o600)
	kinds := map[string]func(string) error{
		"symlink":   func(p string) error { return os.Symlink(target, p) },
		"fifo":      func(p string) error { return syscall.Mkfifo(p, 0o622) },
		"directory": func(p string) error { return os.Mkdir(p, 0o700) },
		"device":    func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))) },
	}
	planted := map[queue.ID]string{}
	for kind, mk := range kinds {
		id := queue.NewID(time.Now())
		if err := mk(st.Path(queue.Maildrop, id)); err != nil {
			if kind == "device" {
				t.Logf("SKIP part: cannot make a device node (%v); run as root to cover devices", err)
				continue
			}
			t.Fatal(err)
		}
		planted[id] = kind
	}
	os.WriteFile(filepath.Join(st.Root(), "maildrop", "notes.txt"), nil, 0o600)
	mail := post(t, s, &queue.Envelope{Sender: "a", Recipients: []queue.Recipient{{Addr: "b"}}}, "x")
	for i := 0; i < 3; i++ {
		s.Scan(context.Background())
	}
	select {
	case <-ids: // the positive signal: the scans picked up real mail
	case <-time.After(10 * time.Second):
		t.Fatal("the mail beside the odd entries was not picked up")
	}
	if _, err := os.Stat(st.Path(queue.Maildrop, mail)); !os.IsNotExist(err) {
		t.Errorf("maildrop file %s not picked up: %v", mail, err)
	}
	for id, kind := range planted {
		if _, err := os.Lstat(st.Path(queue.Corrupt, id)); err != nil {
			t.Errorf("%s not in corrupt/: %v", kind, err)
		}
		if n := buf.Count("moved to corrupt/", "queue_id="+string(id)); n != 1 {
			t.Errorf("%s: %d log lines, want 1:\n%s", kind, n, buf)
		}
	}
	if n := buf.Count("unexpected name", "name=notes.txt"); n != 1 {
		t.Errorf("notes.txt logged %d times over 3 scans, want 1:\n%s", n, buf)
	}
	if b, _ := os.ReadFile(target); string(b) != "not mail" {
		t.Errorf("symlink target changed: %q", b)
	}
}
