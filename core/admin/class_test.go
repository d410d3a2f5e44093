package admin

import (
	"context"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/queue"
)

// outcome appends outcome records (deferrals or failures with their
// class) to message id in st.
func (f *fixture) outcome(st queue.State, id queue.ID, recs ...queue.Record) {
	f.t.Helper()
	m, err := f.store.Read(st, id)
	if err != nil {
		f.t.Fatal(err)
	}
	defer m.Close()
	if err := m.Append(recs...); err != nil {
		f.t.Fatal(err)
	}
}

func TestListByClass(t *testing.T) {
	f := newFixture(t)
	full := f.add(queue.Deferred, "a@a.test", "", "u@x.test", "v@x.test")
	f.outcome(queue.Deferred, full, queue.RcptDeferred(0, "452 4.2.2 over quota").Classed("mailbox_full"))
	rate := f.add(queue.Deferred, "a@a.test", "", "w@x.test")
	f.outcome(queue.Deferred, rate, queue.RcptDeferred(0, "421 4.7.28 rate limited").Classed("rate_limited"))
	// A failed recipient (to be bounced) is done: the filter is about
	// pending mail, as rcpt_domain and reason_match are.
	bounced := f.add(queue.Deferred, "a@a.test", "", "x@x.test", "y@x.test")
	f.outcome(queue.Deferred, bounced, queue.RcptFailed(0, "452 4.2.2 over quota").Classed("mailbox_full"),
		queue.RcptDeferred(1, "451 4.4.1 refused").Classed("transient"))
	for _, tc := range []struct {
		kv   []string
		want []queue.ID
	}{
		{[]string{"class", "mailbox_full"}, []queue.ID{full}},
		{[]string{"class", "rate_limited, mailbox_full"}, []queue.ID{full, rate}},
		{[]string{"class", "transient", "class", "rate_limited"}, []queue.ID{rate, bounced}},
		{[]string{"class", "invalid_recipient"}, nil},
	} {
		ents, err := f.adm.List(context.Background(), compile(t, tc.kv...))
		if err != nil {
			t.Fatal(err)
		}
		var got []queue.ID
		for _, e := range ents {
			got = append(got, e.ID)
		}
		if strings.Join(ids(got), " ") != strings.Join(ids(tc.want), " ") {
			t.Errorf("%v: got %v, want %v", tc.kv, got, tc.want)
		}
	}
	m, err := f.adm.Get(full, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Recipients[0].Class != "mailbox_full" || m.Recipients[1].Class != "" {
		t.Errorf("Get shows classes %q %q", m.Recipients[0].Class, m.Recipients[1].Class)
	}
}

func TestClassFilterRefusesUnknownNames(t *testing.T) {
	var s Spec
	if err := s.Set("class", "mailbox_ful"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compile(); err == nil || !strings.Contains(err.Error(), `unknown bounce class "mailbox_ful"`) {
		t.Fatalf("Compile = %v", err)
	}
}
