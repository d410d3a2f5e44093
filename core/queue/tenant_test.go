package queue

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestTenantRoundTrip(t *testing.T) {
	s := newStore(t)
	env := sampleEnvelope()
	env.Tenant = "acme-42.example"
	id := commit(t, s, Incoming, env, "x\r\n")
	m, err := s.Read(Incoming, id)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Tenant != "acme-42.example" {
		t.Fatalf("tenant = %q", m.Tenant)
	}
}

// A message without a tenant writes no record, and a file written before
// the record existed decodes with none.
func TestNoTenantWritesNoRecord(t *testing.T) {
	env := sampleEnvelope()
	env.ID = NewID(time.Unix(1700000000, 0))
	head, _ := encodeEnvelope(env)
	if bytes.Contains(head, []byte("\nG ")) {
		t.Fatal("an envelope without a tenant wrote a tenant record")
	}
	p, err := decodeHead(head)
	if err != nil || p.env.Tenant != "" {
		t.Fatalf("decode: %v, tenant %q", err, p.env.Tenant)
	}
}

func TestTenantRecordIsChecked(t *testing.T) {
	env := sampleEnvelope()
	env.ID = NewID(time.Unix(1700000000, 0))
	head, _ := encodeEnvelope(env)
	at := bytes.Index(head, []byte("\nM ")) + 1
	with := func(recs string) []byte {
		return append(append(append([]byte{}, head[:at]...), recs...), head[at:]...)
	}
	if p, err := decodeHead(with("G acme\n")); err != nil || p.env.Tenant != "acme" {
		t.Fatalf("tenant record: %v", err)
	}
	for name, recs := range map[string]string{
		"duplicate":  "G a\nG b\n",
		"empty":      "G \n",
		"no field":   "G\n",
		"two fields": "G a\tb\n",
		"space":      "G a b\n",
		"comma":      "G a,b\n",
		"control":    "G a%01b\n",
		"non-ascii":  "G caf\xc3\xa9\n",
		"long":       "G " + strings.Repeat("x", MaxTenantLen+1) + "\n",
	} {
		if _, err := decodeHead(with(recs)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func TestCheckTenant(t *testing.T) {
	for _, ok := range []string{"acme", "customer-17", "a.b_c@d+e:f/g", strings.Repeat("t", MaxTenantLen)} {
		if err := CheckTenant(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a\tb", "a,b", "a\x7fb", "é", strings.Repeat("t", MaxTenantLen+1)} {
		if CheckTenant(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
