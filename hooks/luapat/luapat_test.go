package luapat

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFind(t *testing.T) {
	for _, c := range []struct {
		src, pat   string
		start, end int // -1: no match
		caps       string
	}{
		{"hello world", "o w", 4, 7, ""},
		{"hello", "l+", 2, 4, ""},
		{"hello", "^h", 0, 1, ""},
		{"hello", "^e", -1, -1, ""},
		{"key=val", "(%w+)=(%w+)", 0, 7, "key,val"},
		{"abc", "()b()", 1, 2, "@1,@2"},
		{"f(a(b)c)d", "%b()", 1, 8, ""},
		{"the cat", "%f[%w]%w+", 0, 3, ""},
		{"xyxy", "(xy)%1", 0, 4, "xy"},
		{"aaa", "a-$", 0, 3, ""},
		{"aaa", "a-", 0, 0, ""},
		{"a]b", "[]]", 1, 2, ""},
		{"x\x00y", "%z", 1, 2, ""},
	} {
		m := New(c.src, c.pat, nil)
		s, e, caps, ok, err := m.Find(0)
		if err != nil {
			t.Errorf("%q ~ %q: %v", c.src, c.pat, err)
			continue
		}
		if !ok {
			s, e = -1, -1
		}
		if s != c.start || e != c.end || capText(c.src, caps) != c.caps {
			t.Errorf("%q ~ %q = %d,%d %q; want %d,%d %q", c.src, c.pat, s, e, capText(c.src, caps), c.start, c.end, c.caps)
		}
	}
}

func capText(src string, caps []Capture) string {
	var out []string
	for _, c := range caps {
		if c.Len == CapPosition {
			out = append(out, "@"+string(rune('0'+c.Start)))
		} else {
			out = append(out, src[c.Start:c.Start+c.Len])
		}
	}
	return strings.Join(out, ",")
}

// TestPollStopsBacktracking: an exponential match stops at the first
// poll that says so, within milliseconds.
func TestPollStopsBacktracking(t *testing.T) {
	stop := errors.New("stop")
	deadline := time.Now().Add(50 * time.Millisecond)
	m := New(strings.Repeat("a", 60), strings.Repeat(".-", 30)+"b", func() error {
		if time.Now().After(deadline) {
			return stop
		}
		return nil
	})
	start := time.Now()
	_, _, _, _, err := m.Find(0)
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v, want the poll's", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stopped after %v", d)
	}
	if m.Steps() < PollEvery {
		t.Errorf("only %d steps", m.Steps())
	}
}

func TestMalformed(t *testing.T) {
	for _, pat := range []string{"%", "[a", "[%", "(a", "a)", "%b", "%bx", "%f", "%fa", "%1", "(()%2", "((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))"} {
		if _, _, _, _, err := New("abc", pat, nil).Find(0); err == nil {
			t.Errorf("%q: no error", pat)
		}
	}
}

// FuzzMatch: any pattern on any subject ends, with a match, no match
// or an error, and never panics; a poll bounds the work.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{{"hello world", "(%w+) (%w+)"}, {"f(a)", "%b()"}, {"aaa", "a-b"},
		{"x", "[^%a]"}, {"the end", "%f[%w]%w+$"}, {"abab", "(ab)%1"}, {"", "^$"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, src, pat string) {
		m := New(src, pat, nil)
		m.Poll = func() error {
			if m.Steps() > 1e6 {
				return errors.New("budget")
			}
			return nil
		}
		s, e, caps, ok, err := m.Find(0)
		if err != nil || !ok {
			return
		}
		if s < 0 || e < s || e > len(src) {
			t.Fatalf("match %d,%d outside %d bytes", s, e, len(src))
		}
		for _, c := range caps {
			if c.Len != CapPosition && (c.Start < 0 || c.Len < 0 || c.Start+c.Len > len(src)) {
				t.Fatalf("capture %+v outside %d bytes", c, len(src))
			}
		}
	})
}
