package dsn

import (
	"bytes"
	"testing"
)

// FuzzParseReport feeds arbitrary bytes to ParseReport. It must never
// panic, and whatever it accepts must satisfy what it promises: at least
// one recipient, each with a known action and a valid status class. The
// seed corpus in testdata/fuzz/FuzzParseReport holds a report written by
// Compose, a foreign one, and broken variants.
func FuzzParseReport(f *testing.F) {
	f.Add([]byte(foreignReport))
	if msg, err := Compose(testNotification(Failure)); err == nil {
		f.Add(msg)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := ParseReport(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(rep.Recipients) == 0 {
			t.Fatal("accepted a report without recipients")
		}
		if rep.Message.ReportingMTA.Type == "" {
			t.Fatal("accepted a report without Reporting-MTA")
		}
		for _, r := range rep.Recipients {
			if !validAction(r.Action) || r.Final.Value == "" {
				t.Fatalf("accepted recipient %+v", r)
			}
			if c := r.Status[0]; c != 2 && c != 4 && c != 5 {
				t.Fatalf("accepted status %s", r.Status)
			}
		}
	})
}
