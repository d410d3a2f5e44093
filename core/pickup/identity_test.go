package pickup

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/hooks"
)

// seenScript is a cleanup hook that records the client it is shown in a
// header of the message, where the test reads it back.
const seenScript = `
mta.on("cleanup", function(msg)
  local c = msg.client
  msg:add_header("X-Seen-Client", table.concat({c.name, c.addr, c.helo, c.proto, c.auth_user}, "|"))
end)
`

// TestForgedIdentityNeverReachesPolicy writes a maildrop file as a local
// user could, claiming to come from a trusted host as an authenticated
// "admin"; the policy sees the local host and the file owner's name.
func TestForgedIdentityNeverReachesPolicy(t *testing.T) {
	s, ids := setup(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "10-seen.lua"), []byte(seenScript), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := hooks.New(hooks.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	s.Cleanup.Policy = eng

	forged := queue.Client{Name: "mx.trusted.example", Addr: "192.0.2.1", Helo: "mx.trusted.example", Proto: "ESMTPSA", AuthUser: "admin"}
	w, err := s.Store.Create(queue.Maildrop, &queue.Envelope{Sender: "alice", Client: forged,
		Recipients: []queue.Recipient{{Addr: "bob"}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Subject: forged\r\n\r\nhi\r\n"))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	owner, name := uint32(os.Getuid()), LocalClient(uint32(os.Getuid())).AuthUser
	if os.Getuid() == 0 {
		// As root, hand the file to nobody, as if nobody had written it.
		owner, name = 65534, LocalClient(65534).AuthUser
		if err := os.Chown(s.Store.Path(queue.Maildrop, w.ID()), int(owner), int(owner)); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Log("not root: the file stays the test user's (the uid mapping is checked as root only)")
	}

	s.Scan(context.Background())
	m, err := s.Store.Read(queue.Incoming, <-ids)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want := "localhost|||LOCAL|" + name
	if got := headerOf(t, m, "X-Seen-Client"); got != want {
		t.Errorf("policy saw client %q, want %q", got, want)
	}
	if m.Client != (queue.Client{Name: "localhost", Proto: "LOCAL", AuthUser: name}) {
		t.Errorf("queued client %+v", m.Client)
	}
	if owner == 65534 && name != "nobody" && name != "uid=65534" {
		t.Errorf("uid 65534 named %q", name)
	}
}

// headerOf returns the first value of a header field of m's content.
func headerOf(t *testing.T, m *queue.Message, name string) string {
	t.Helper()
	h, err := textproto.ReadHeader(bufio.NewReader(m.Open()))
	if err != nil {
		t.Fatal(err)
	}
	return h.Get(name)
}
