package throttle

import (
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Rate
	}{
		{"500/h", Rate{N: 500, Per: time.Hour}},
		{"10/s", Rate{N: 10, Per: time.Second}},
		{" 60/min ", Rate{N: 60, Per: time.Minute}},
		{"1/s", Rate{N: 1, Per: time.Second}},
	} {
		got, err := ParseRate(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if back, err := ParseRate(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q: %v %v", c.in, back, err)
		}
	}
	for _, bad := range []string{"", "10", "10/", "/s", "0/s", "-1/s", "+5/s", "1.5/s", "10/m",
		"10/sec", "10/S", "10/d", "1e3/s", "10 /s", "2000000000/s", "99999999999999999999/h"} {
		if r, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) = %v, want an error", bad, r)
		}
	}
}

// TestGCRA: a full bucket lets N through at once, then one per interval.
func TestGCRA(t *testing.T) {
	r := Rate{N: 3, Per: 3 * time.Second}
	now := time.Unix(1000, 0)
	var tat time.Time
	for i := 0; i < 3; i++ {
		var ok bool
		if tat, ok, _ = gcra(tat, now, r); !ok {
			t.Fatalf("event %d refused in the burst", i)
		}
	}
	_, ok, retry := gcra(tat, now, r)
	if ok || retry != time.Second {
		t.Fatalf("4th event: allowed %v, retry %v; want refused, 1s", ok, retry)
	}
	if _, ok, _ = gcra(tat, now.Add(time.Second), r); !ok {
		t.Fatal("refused after one interval")
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"500/h", "10/s", "60/min", "0/s", "/", "1/", "x/min", "-3/h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if r.N <= 0 || r.Interval() <= 0 {
			t.Fatalf("ParseRate(%q) = %v: not a usable rate", s, r)
		}
		if back, err := ParseRate(r.String()); err != nil || back != r {
			t.Fatalf("round trip of %q: %v %v", s, back, err)
		}
	})
}
