package queue

import "testing"

func commitOne(t *testing.T, st *Store) {
	t.Helper()
	w, err := st.Create(Incoming, &Envelope{Sender: "a@x.test", Recipients: []Recipient{{Addr: "b@y.test"}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Subject: x\r\n\r\nbody\r\n"))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// A commit's file and directory fsyncs are timed; in group-commit mode
// its syncfs is.
func TestSyncLatencyCountsTheSyncs(t *testing.T) {
	st, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	commitOne(t, st)
	lat := st.SyncLatency()
	if lat["fsync"].Count < 1 || lat["dirsync"].Count < 1 || lat["syncfs"].Count != 0 {
		t.Fatalf("after an fsync commit: fsync %d, dirsync %d, syncfs %d", lat["fsync"].Count, lat["dirsync"].Count, lat["syncfs"].Count)
	}
	if lat["fsync"].Sum <= 0 {
		t.Errorf("fsync time %v", lat["fsync"].Sum)
	}
	if err := st.UseSyncfs(); err != nil {
		t.Fatal(err)
	}
	before := st.SyncLatency()["fsync"].Count
	commitOne(t, st)
	lat = st.SyncLatency()
	if lat["syncfs"].Count < 1 || lat["fsync"].Count != before {
		t.Errorf("after a syncfs commit: syncfs %d, fsync %d (was %d)", lat["syncfs"].Count, lat["fsync"].Count, before)
	}
}
