package resolve

import (
	"context"
	"strings"
	"testing"
)

func TestParseSamples(t *testing.T) {
	got, err := ParseSamples(strings.NewReader("# comment\n\n<> a@x b@y\ns@z c@x\n"))
	if err != nil || len(got) != 2 || got[0].Sender != "" || len(got[0].Rcpts) != 2 || got[1].ID != "sample-4" {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, bad := range []string{"onlysender\n", "s@x <a@b>\n", "s@x a\x00b\n"} {
		if _, err := ParseSamples(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestDiffListsOnlyChangedRecipients: two policies that differ for one
// domain report that domain's recipients and count all.
func TestDiffListsOnlyChangedRecipients(t *testing.T) {
	live := &Explainer{Cleanup: fakeCleanup{}, Resolver: &Resolver{Router: tracingRouter{}, Default: Static{IsLocal: local}, Transports: transports}}
	cand := &Explainer{Cleanup: fakeCleanup{}, Resolver: &Resolver{Default: Static{IsLocal: local}, Transports: transports}}
	samples := []Sample{{ID: "1", Sender: "s@x", Rcpts: []string{"u@example.com", "v@other.org"}}, {ID: "2", Rcpts: []string{"list@example.com"}}}
	checked, changes := Diff(context.Background(), live, cand, samples)
	if checked != 3 || len(changes) != 2 {
		t.Fatalf("checked %d, changes %+v", checked, changes)
	}
	if c := changes[0]; c.Rcpt != "v@other.org" || c.Live != "v@other.org smtp:[relay.other.org]" || c.Candidate != "v@other.org smtp:other.org" {
		t.Errorf("change %+v", c)
	}
	var out strings.Builder
	PrintDiff(&out, len(samples), checked, changes)
	if !strings.HasPrefix(out.String(), "checked: 3 recipients of 2 messages\nchanged: 2\n1 v@other.org\n") {
		t.Errorf("printed %q", out.String())
	}
}

func FuzzParseSamples(f *testing.F) {
	f.Add("s@x a@b c@d\n<> e@f\n# c\n")
	f.Fuzz(func(t *testing.T, in string) {
		samples, err := ParseSamples(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range samples {
			if len(s.Rcpts) == 0 {
				t.Fatalf("sample without recipients from %q", in)
			}
			for _, r := range s.Rcpts {
				if r == "" || strings.ContainsAny(r, " \t\n\x00") {
					t.Fatalf("bad recipient %q from %q", r, in)
				}
			}
		}
	})
}
