package queue

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sampleEnvelope() *Envelope {
	return &Envelope{
		Arrival: time.Unix(1700000000, 123456789),
		Sender:  "sender@example.org",
		Client:  Client{Name: "mx.example.org", Addr: "192.0.2.1", Helo: "mx\tevil\r\nX: y", Proto: "ESMTPS", AuthUser: "bob"},
		Recipients: []Recipient{
			{Addr: "a@example.com", ORcpt: "rfc822;A@example.com", Notify: "SUCCESS,FAILURE"},
			{Addr: "\"odd%local\"@example.com"},
			{Addr: "c@example.net", Notify: "NEVER"},
		},
		EnvID: "env-1", Ret: "HDRS", BodyType: "8BITMIME", SMTPUTF8: true,
	}
}

func commit(t *testing.T, s *Store, st State, env *Envelope, content string) ID {
	t.Helper()
	w, err := s.Create(st, env, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, content); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return w.ID()
}

func TestRoundTrip(t *testing.T) {
	s := newStore(t)
	env := sampleEnvelope()
	content := "Subject: hi\r\n\r\nbody\r\nM 00000000000000000001\r\n"
	id := commit(t, s, Incoming, env, content)
	m, err := s.Read(Incoming, id)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, _ := io.ReadAll(m.Open())
	if string(got) != content {
		t.Fatalf("content = %q", got)
	}
	want := *env
	want.Size = int64(len(content))
	for i := range want.Recipients {
		want.Recipients[i].State = Pending
	}
	if !equalEnvelope(&m.Envelope, &want) {
		t.Fatalf("envelope\n got %+v\nwant %+v", m.Envelope, want)
	}
}

func equalEnvelope(a, b *Envelope) bool {
	if !a.Arrival.Equal(b.Arrival) || !a.NextAttempt.Equal(b.NextAttempt) {
		return false
	}
	x, y := *a, *b
	x.Arrival, y.Arrival, x.NextAttempt, y.NextAttempt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(x, y)
}

func TestJournal(t *testing.T) {
	s := newStore(t)
	id := commit(t, s, Incoming, sampleEnvelope(), "x\r\n")
	m, err := s.Read(Incoming, id)
	if err != nil {
		t.Fatal(err)
	}
	next := time.Unix(1700001000, 0)
	err = m.Append(RcptDelivered(0, "250 2.0.0 ok"), RcptFailed(1, "550 5.1.1 no\tsuch"),
		RcptDeferred(2, "451 4.4.1 later"), Attempt(1, next), RcptReported(1), DelayWarned(), HoldReason("spam?"))
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	m, err = s.Read(Incoming, id)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r := m.Recipients
	if r[0].State != Delivered || r[1].State != Failed || r[2].State != Pending {
		t.Fatalf("states %c %c %c", r[0].State, r[1].State, r[2].State)
	}
	if r[1].Reason != "550 5.1.1 no\tsuch" || !r[1].Reported || r[2].Reason != "451 4.4.1 later" {
		t.Fatalf("reasons %+v", r)
	}
	if m.Attempts != 1 || !m.NextAttempt.Equal(next) || !m.DelayWarned || m.HoldReason != "spam?" {
		t.Fatalf("journal fields %+v", m.Envelope)
	}
	if p := m.Pending(); len(p) != 1 || p[0] != 2 {
		t.Fatalf("pending = %v", p)
	}
}

func TestTornJournalRecordIsIgnoredAndCut(t *testing.T) {
	s := newStore(t)
	id := commit(t, s, Incoming, sampleEnvelope(), "x\r\n")
	f, _ := os.OpenFile(s.Path(Incoming, id), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("D 0\t250 2.0.0 o") // crash mid-append: no newline
	f.Close()
	m, err := s.Read(Incoming, id)
	if err != nil {
		t.Fatalf("torn tail must not make the file corrupt: %v", err)
	}
	if m.Recipients[0].State != Pending {
		t.Fatal("torn record applied")
	}
	if err := m.Append(RcptDelivered(1, "250 ok")); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m, err = s.Read(Incoming, id)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Recipients[0].State != Pending || m.Recipients[1].State != Delivered {
		t.Fatalf("after append: %+v", m.Recipients)
	}
}

func TestCorruptFiles(t *testing.T) {
	s := newStore(t)
	good := commit(t, s, Incoming, sampleEnvelope(), "hello\r\n")
	raw, _ := os.ReadFile(s.Path(Incoming, good))
	cases := map[string][]byte{
		"empty":        nil,
		"garbage":      []byte("hello world\n"),
		"truncated":    raw[:bytes.Index(raw, []byte("hello"))+3],
		"no content":   raw[:bytes.Index(raw, []byte("M "))],
		"bad index":    append(append([]byte{}, raw...), "D 9\t250 ok\n"...),
		"bad record":   append(append([]byte{}, raw...), "Y what\n"...),
		"bad padding":  append(append([]byte{}, raw...), "Z what\n"...),
		"bad escape":   bytes.Replace(raw, []byte("sender@"), []byte("sender%G1@"), 1),
		"dup sender":   bytes.Replace(raw, []byte("S sender"), []byte("S a\nS sender"), 1),
		"no rcpt":      removeLines(raw, "R "),
		"bad size":     bytes.Replace(raw, []byte("M 0"), []byte("M -"), 1),
		"bad id":       bytes.Replace(raw, []byte("I "+good), []byte("I ../../etc"), 1),
		"long record":  append(append([]byte{}, raw...), append(bytes.Repeat([]byte("H"), 70000), '\n')...),
		"bad ret":      bytes.Replace(raw, []byte("X HDRS"), []byte("X BOTH"), 1),
		"bad attempts": append(append([]byte{}, raw...), "A -1\t5\n"...),
	}
	for name, data := range cases {
		id := NewID(time.Now())
		if err := os.WriteFile(s.Path(Incoming, id), data, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := s.Read(Incoming, id)
		if err == nil {
			m.Close()
			t.Errorf("%s: parsed", name)
			continue
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v does not wrap ErrCorrupt", name, err)
		}
		s.Quarantine(Incoming, id, err)
		if _, err := os.Stat(s.Path(Corrupt, id)); err != nil {
			t.Errorf("%s: not quarantined: %v", name, err)
		}
	}
}

func removeLines(raw []byte, prefix string) []byte {
	var out []string
	for _, l := range strings.SplitAfter(string(raw), "\n") {
		if !strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, ""))
}

func TestSymlinkIsNotFollowed(t *testing.T) {
	s := newStore(t)
	target := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(target, []byte("secret"), 0o600)
	id := NewID(time.Now())
	os.Symlink(target, s.Path(Maildrop, id))
	if m, err := s.Read(Maildrop, id); err == nil {
		m.Close()
		t.Fatal("followed a symlink")
	}
}

func TestInvalidIDsNeverBecomePaths(t *testing.T) {
	s := newStore(t)
	for _, bad := range []string{"../active/x", "", "0123456789ABCDEF0/", "0123456789abcdef01", "/etc/passwd"} {
		if err := s.Move(ID(bad), Incoming, Active); err == nil {
			t.Errorf("Move(%q) allowed", bad)
		}
		if _, err := s.Read(Incoming, ID(bad)); err == nil {
			t.Errorf("Read(%q) allowed", bad)
		}
		if err := s.Remove(Incoming, ID(bad)); err == nil {
			t.Errorf("Remove(%q) allowed", bad)
		}
	}
}

func TestAbortAndRecover(t *testing.T) {
	t.Run("tmpfile", func(t *testing.T) { abortAndRecover(t, true) })
	t.Run("named temp file", func(t *testing.T) { abortAndRecover(t, false) })
}

func abortAndRecover(t *testing.T, tmpfile bool) {
	s := newStore(t)
	if !tmpfile {
		for _, st := range States {
			s.tmpfile.Store(filepath.Join(s.Root(), string(st)), false)
		}
	}
	w, _ := s.Create(Incoming, sampleEnvelope(), 0)
	if !tmpfile && w.tmp == "" {
		t.Fatal("fallback not used")
	}
	io.WriteString(w, "half")
	// Crash before commit: temp file stays, but is not listed.
	if ents, _ := s.List(Incoming); len(ents) != 0 {
		t.Fatalf("uncommitted file listed: %v", ents)
	}
	a := commit(t, s, Incoming, sampleEnvelope(), "a")
	if err := s.Move(a, Incoming, Active); err != nil {
		t.Fatal(err)
	}
	n, err := s.Recover()
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v", n, err)
	}
	ents, _ := s.List(Incoming)
	if len(ents) != 1 || ents[0].ID != a {
		t.Fatalf("incoming after recovery: %v", ents)
	}
	des, _ := os.ReadDir(filepath.Join(s.Root(), "incoming"))
	if len(des) != 1 {
		t.Fatalf("temp file not removed: %v", des)
	}
}

func TestSizeLimit(t *testing.T) {
	s := newStore(t)
	w, _ := s.Create(Incoming, sampleEnvelope(), 10)
	if _, err := io.WriteString(w, "0123456789A"); !errors.Is(err, ErrTooBig) {
		t.Fatalf("err = %v", err)
	}
	if err := w.Commit(); !errors.Is(err, ErrTooBig) {
		t.Fatalf("commit err = %v", err)
	}
	if ents, _ := s.List(Incoming); len(ents) != 0 {
		t.Fatal("oversize message committed")
	}
}

func TestConcurrentCommitsShareDirSyncs(t *testing.T) {
	s := newStore(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := s.Create(Incoming, sampleEnvelope(), 0)
			if err == nil {
				io.WriteString(w, "x")
				err = w.Commit()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := s.List(Incoming)
	if len(ents) != n {
		t.Fatalf("%d files, want %d", len(ents), n)
	}
	g := s.sync[Incoming]
	if g.started > n {
		t.Fatalf("%d directory syncs for %d commits", g.started, n)
	}
}

func TestIDs(t *testing.T) {
	now := time.Now()
	a, b := NewID(now), NewID(now.Add(time.Microsecond))
	if !Valid(string(a)) || !Valid(string(b)) || a == b || a > b {
		t.Fatalf("ids %s %s", a, b)
	}
	if !a.Time().Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("Time() = %v want %v", a.Time(), now)
	}
}

func FuzzDecode(f *testing.F) {
	env := sampleEnvelope()
	env.ID = NewID(time.Unix(1700000000, 0))
	head, off := encodeEnvelope(env)
	copy(head[off:], "00000000000000000003")
	f.Add(append(head, "abc"...))
	f.Add(append(append([]byte{}, head...), "abcD 0\t250 ok\nA 1\t5\nQ 1\t451 x\n"...))
	f.Add(append(append([]byte{}, head...), "abcZ      \nD 0\t250 ok\nZ x\n"...))
	f.Add(append(append([]byte{}, head...), "abcQ 0\t452 4.2.2 full\t\tmailbox_full\nF 1\t550 x\tmx\tspam_block\nQ 0\tx\t\tBad\n"...))
	f.Add([]byte(magic))
	env.Meta = map[string]string{"tenant": "acme", "x": "a\tb"}
	env.Tenant = "acme.example"
	head, off = encodeEnvelope(env)
	copy(head[off:], "00000000000000000000")
	f.Add(head)
	f.Add([]byte("moonpost-queue 1\nI %ZZ\n"))
	f.Add(bytes.Replace(head, []byte("\nG acme.example\n"), []byte("\nG a b\nG x\n"), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		if p.contentOff > int64(len(data)) || p.goodEnd > int64(len(data)) || p.env.Size < 0 {
			t.Fatalf("offsets out of range: %+v", p)
		}
		for _, r := range p.env.Recipients {
			if r.Class != "" && (!ValidClass(r.Class) || r.State == Delivered) {
				t.Fatalf("recipient with class %q in state %c", r.Class, r.State)
			}
		}
		// Whatever parsed must survive a re-encode and parse unchanged.
		head, off := encodeEnvelope(&p.env)
		copy(head[off:], []byte(strings.Repeat("0", sizeDigits)))
		p.env.Size = 0
		q, err := decode(bytes.NewReader(head))
		if err != nil {
			t.Fatalf("re-encoded envelope does not parse: %v", err)
		}
		if q.env.Sender != p.env.Sender || len(q.env.Recipients) != len(p.env.Recipients) || !maps.Equal(q.env.Meta, p.env.Meta) ||
			q.env.Tenant != p.env.Tenant {
			t.Fatalf("round trip changed envelope")
		}
	})
}

// With syncfs group commit, concurrent commits and journal appends share
// a few file-system syncs and everything reads back.
func TestSyncfsGroupCommit(t *testing.T) {
	s := newStore(t)
	if err := s.UseSyncfs(); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	ids := make(chan ID, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids <- commit(t, s, Incoming, sampleEnvelope(), "body\r\n")
		}()
	}
	wg.Wait()
	close(ids)
	for id := range ids {
		m, err := s.Read(Incoming, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Append(RcptDelivered(0, "250 ok")); err != nil {
			t.Fatal(err)
		}
		m.Close()
	}
	if s.fs.started == 0 || s.fs.started >= 2*n {
		t.Fatalf("%d syncfs calls for %d commits and %d appends", s.fs.started, n, n)
	}
}

// An outcome record with its relay decodes with Relay set; one without
// (as files written before the field existed) leaves it empty.
func TestOutcomeRecordCarriesRelay(t *testing.T) {
	st, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	env := &Envelope{Sender: "a@x", Recipients: []Recipient{{Addr: "b@y"}, {Addr: "c@y"}}}
	w, err := st.Create(Incoming, env, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Subject: x\r\n\r\nbody\r\n"))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	id := env.ID
	m, err := st.Read(Incoming, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Append(RcptFailed(0, "550 5.1.1 no").Via("mx[192.0.2.1]:25"), RcptDeferred(1, "451 4.4.1 later")); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m, err = st.Read(Incoming, id)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if r := m.Recipients[0]; r.Relay != "mx[192.0.2.1]:25" || r.Reason != "550 5.1.1 no" || r.State != Failed {
		t.Errorf("recipient 0 = %+v", r)
	}
	if r := m.Recipients[1]; r.Relay != "" || r.Reason != "451 4.4.1 later" {
		t.Errorf("recipient 1 = %+v", r)
	}
}

func TestOutcomeClassRoundTrip(t *testing.T) {
	st := newStore(t)
	env := &Envelope{Sender: "a@x", Recipients: []Recipient{{Addr: "b@y"}, {Addr: "c@y"}, {Addr: "d@y"}}}
	w, err := st.Create(Incoming, env, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Subject: x\r\n\r\nbody\r\n"))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	m, err := st.Read(Incoming, env.ID)
	if err != nil {
		t.Fatal(err)
	}
	recs := []Record{
		RcptFailed(0, "550 5.1.1 no").Via("mx[192.0.2.1]:25").Classed("invalid_recipient"),
		RcptDeferred(1, "452 4.2.2 full").Classed("mailbox_full"),
		RcptDelivered(2, "250 ok").Classed("transient"), // a success has no class: nothing added
	}
	if got := len(recs[2].fields); got != 2 {
		t.Fatalf("delivered record got a class: %v", recs[2].fields)
	}
	if err := m.Append(recs...); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m, err = st.Read(Incoming, env.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want := []Recipient{
		{Addr: "b@y", State: Failed, Reason: "550 5.1.1 no", Relay: "mx[192.0.2.1]:25", Class: "invalid_recipient"},
		{Addr: "c@y", State: Pending, Reason: "452 4.2.2 full", Class: "mailbox_full"},
		{Addr: "d@y", State: Delivered, Reason: "250 ok"},
	}
	for i, w := range want {
		if m.Recipients[i] != w {
			t.Errorf("recipient %d = %+v, want %+v", i, m.Recipients[i], w)
		}
	}
	// A later outcome without a class clears the earlier one.
	if err := m.Note(RcptDeferred(1, "451 4.4.1 later")); err != nil || m.Recipients[1].Class != "" {
		t.Fatalf("class kept past a new outcome: %+v %v", m.Recipients[1], err)
	}
}

func TestOutcomeClassStrict(t *testing.T) {
	env := &Envelope{Recipients: []Recipient{{Addr: "b@y"}}}
	for _, line := range []string{"Q 0\tr\t\tMailbox_Full", "Q 0\tr\t\t", "D 0\t250 ok\t\ttransient", "F 0\tr\tx\t" + strings.Repeat("a", 33), "Q 0\tr\tx\tmailbox full", "Q 0\tr\tx\ty\tz"} {
		kind, f, err := splitRecord(line)
		if err == nil {
			err = journalRecord(env, kind, f)
		}
		if err == nil {
			t.Errorf("%q accepted", line)
		}
	}
	for _, ok := range []string{"spam_block", "x", "a1_b2"} {
		if !ValidClass(ok) {
			t.Errorf("ValidClass(%q) = false", ok)
		}
	}
}
