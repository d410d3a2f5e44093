package queue

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestMetaRoundTrip(t *testing.T) {
	s := newStore(t)
	env := sampleEnvelope()
	env.Meta = map[string]string{"tenant": "acme", "plan": "gold\tplus\r\n%", "empty": ""}
	id := commit(t, s, Incoming, env, "x\r\n")
	m, err := s.Read(Incoming, id)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Meta) != 3 || m.Meta["tenant"] != "acme" || m.Meta["plan"] != "gold\tplus\r\n%" || m.Meta["empty"] != "" {
		t.Fatalf("meta = %q", m.Meta)
	}
}

// A file written before the meta record existed decodes with no meta.
func TestFileWithoutMetaDecodes(t *testing.T) {
	env := sampleEnvelope()
	env.ID = NewID(time.Unix(1700000000, 0))
	head, _ := encodeEnvelope(env)
	if bytes.Contains(head, []byte("\nV ")) {
		t.Fatal("an envelope without meta wrote a meta record")
	}
	p, err := decodeHead(head)
	if err != nil || p.env.Meta != nil {
		t.Fatalf("decode: %v, meta %q", err, p.env.Meta)
	}
}

func TestMetaRecordsAreChecked(t *testing.T) {
	env := sampleEnvelope()
	env.ID = NewID(time.Unix(1700000000, 0))
	head, _ := encodeEnvelope(env)
	at := bytes.Index(head, []byte("\nM ")) + 1
	with := func(recs string) []byte {
		return append(append(append([]byte{}, head[:at]...), recs...), head[at:]...)
	}
	if p, err := decodeHead(with("V a\t1\nV b\t2\n")); err != nil || p.env.Meta["b"] != "2" {
		t.Fatalf("two meta records: %v", err)
	}
	for name, recs := range map[string]string{
		"duplicate": "V a\t1\nV a\t2\n",
		"one field": "V a\n",
		"bad key":   "V a b\t1\n",
		"long":      "V a\t" + strings.Repeat("x", MaxMetaValueLen+1) + "\n",
	} {
		if _, err := decodeHead(with(recs)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	var many strings.Builder
	for i := 0; i <= MaxMetaEntries; i++ {
		many.WriteString("V k" + strings.Repeat("x", i) + "\tv\n")
	}
	if _, err := decodeHead(with(many.String())); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("too many keys: %v", err)
	}
}

func TestCheckMeta(t *testing.T) {
	if err := CheckMeta(nil, "tenant.id", "x"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"", "a b", "a\tb", strings.Repeat("k", MaxMetaKeyLen+1)} {
		if CheckMeta(nil, k, "v") == nil {
			t.Errorf("key %q accepted", k)
		}
	}
	full := map[string]string{}
	for i := 0; i < MaxMetaEntries; i++ {
		full[strings.Repeat("k", i+1)] = ""
	}
	if CheckMeta(full, "new", "v") == nil {
		t.Error("a key past the bound accepted")
	}
	if CheckMeta(full, "k", "changed") != nil {
		t.Error("replacing a key counted as a new one")
	}
}
