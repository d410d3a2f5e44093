package egress

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPolicySet(t *testing.T) {
	cases := []struct {
		key  string
		v    any
		want string // "" ok, else part of the error
	}{
		{"connection_limit", 10.0, ""},
		{"connection_limit", 0.0, "whole number from 1"},
		{"connection_limit", 2.5, "whole number"},
		{"connection_limit", "10", "whole number"},
		{"initial_concurrency", 1e9, "whole number"},
		{"max_message_rate", "10/s", ""},
		{"max_message_rate", "100/min", ""},
		{"max_message_rate", "5/h", ""},
		{"max_message_rate", "0/s", "want a rate"},
		{"max_message_rate", "10/day", "want a rate"},
		{"max_connection_rate", 10.0, "want a rate"},
		{"idle_timeout", "30s", ""},
		{"idle_timeout", 30.0, ""},
		{"idle_timeout", "-1s", "duration"},
		{"idle_timeout", "forever", "duration"},
		{"tls", "dane", ""},
		{"tls", "maybe", "want one of"},
		{"source", "192.0.2.7", ""},
		{"source", "2001:db8::7", ""},
		{"source", "pool-a", ""},
		{"source", "bad pool", "IP address or a pool name"},
		{"site", "google", ""},
		{"site", "", "want a name"},
		{"site", strings.Repeat("x", 129), "want a name"},
		{"sites", "google", `unknown key "sites"`},
	}
	for _, c := range cases {
		var p Policy
		err := p.Set(c.key, c.v)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s=%v: %v", c.key, c.v, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s=%v: err %v, want %q", c.key, c.v, err, c.want)
		}
	}
}

func TestDomainOf(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM": "example.com", "[mx.example.com]:25": "mx.example.com", "[192.0.2.1]": "192.0.2.1",
		"relay.example:587": "relay.example", "example.com.": "example.com",
	} {
		if got := DomainOf(in); got != want {
			t.Errorf("DomainOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPacerHoldsRate runs a pacer on simulated time, starting whenever
// allowed with a late timer (up to 7 ms), and counts the starts in 30 s.
func TestPacerHoldsRate(t *testing.T) {
	r := Rate{N: 10, Per: time.Second}
	var p Pacer
	t0 := time.Unix(1_800_000_000, 0)
	now, n := t0, 0
	for i := 0; now.Before(t0.Add(30*time.Second)) && i < 100000; i++ {
		if w := p.Wait(r, now); w > 0 {
			now = now.Add(w + time.Duration(i%8)*time.Millisecond)
			continue
		}
		p.Take(r, now)
		n++
	}
	if n < 299 || n > 301 {
		t.Errorf("%d starts in 30 s at 10/s, want 300 (+1 at most)", n)
	}
	var zero Pacer
	if w := zero.Wait(Rate{}, t0); w != 0 {
		t.Errorf("no rate waits %v", w)
	}
}

func TestCompileRule(t *testing.T) {
	d := time.ParseDuration
	if r, err := Compile(RuleSpec{Pattern: `^421 4\.7\.0 .*rate limited`, Action: "suspend", For: "1h"}, d); err != nil ||
		r.Scope != ScopeSite || r.For != time.Hour {
		t.Errorf("suspend rule: %+v, %v", r, err)
	}
	if r, err := Compile(RuleSpec{Pattern: `^452`, Action: "rate", For: "10m", Rate: "10/min"}, d); err != nil || r.Rate.N != 10 {
		t.Errorf("rate rule: %+v, %v", r, err)
	}
	for _, s := range []RuleSpec{
		{Pattern: `(`, Action: "suspend", For: "1h"},
		{Pattern: ``, Action: "suspend", For: "1h"},
		{Pattern: `x`, Action: "pause", For: "1h"},
		{Pattern: `x`, Action: "suspend", For: "soon"},
		{Pattern: `x`, Action: "suspend", For: "0s"},
		{Pattern: `x`, Action: "suspend", For: "1h", Rate: "1/s"},
		{Pattern: `x`, Action: "rate", For: "1h"},
		{Pattern: `x`, Action: "rate", For: "1h", Rate: "1/s", Scope: "destination"},
		{Pattern: `x`, Action: "suspend", For: "1h", Scope: "planet"},
	} {
		if _, err := Compile(s, d); err == nil {
			t.Errorf("%+v compiled; want an error", s)
		}
	}
	rules := Rules{}
	for _, p := range []string{`^421 .*rate`, `spamhaus`} {
		r, _ := Compile(RuleSpec{Pattern: p, Action: "suspend", For: "1h"}, d)
		rules = append(rules, r)
	}
	if m := rules.Match("554 5.7.1 listed at spamhaus"); m == nil || m.Pattern.String() != "spamhaus" {
		t.Errorf("match: %+v", m)
	}
	if m := rules.Match("250 2.0.0 ok"); m != nil {
		t.Errorf("250 matched %v", m.Pattern)
	}
}

// TestCacheOneCallPerDestination: concurrent misses share one call;
// errors are not kept.
func TestCacheOneCallPerDestination(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	release := make(chan struct{})
	fail := true
	c := &Cache{
		Hook: func(ctx context.Context, d Dest) (*Policy, error) {
			mu.Lock()
			calls[d.Domain+"/"+strings.Join(d.MX, ",")+"/"+d.Tenant]++
			f := fail && d.Domain == "bad.test"
			mu.Unlock()
			<-release
			if f {
				return nil, errors.New("broken")
			}
			return &Policy{Site: d.Domain}, nil
		},
		LookupMX: func(ctx context.Context, domain string) ([]string, error) { return []string{"mx1." + domain}, nil },
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Policy(context.Background(), "smtp", "a.test", "t1") }()
	}
	time.Sleep(20 * time.Millisecond) // let them pile up on the one call
	close(release)
	wg.Wait()
	if calls["a.test/mx1.a.test/t1"] != 1 || len(calls) != 1 {
		t.Errorf("calls %v; want one for a.test with its MX", calls)
	}
	if _, err := c.Policy(context.Background(), "smtp", "bad.test", ""); err == nil {
		t.Fatal("error not returned")
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if p, err := c.Policy(context.Background(), "smtp", "bad.test", ""); err != nil || p.Site != "bad.test" {
		t.Errorf("after an error the hook should be asked again: %+v, %v", p, err)
	}
	if p, _ := c.Policy(context.Background(), "smtp", "[relay.test]:587", ""); p.Site != "relay.test" || calls["relay.test/relay.test/"] != 1 {
		t.Errorf("a bracketed next hop is its own MX list: %v", calls)
	}
}

func FuzzPolicySet(f *testing.F) {
	for _, k := range Keys {
		f.Add(k, "10/s", 1.0, false)
		f.Add(k, "30s", 0.0, true)
	}
	f.Fuzz(func(t *testing.T, key, s string, n float64, useNum bool) {
		var p Policy
		var v any = s
		if useNum {
			v = n
		}
		if err := p.Set(key, v); err != nil {
			return
		}
		if p.ConnectionLimit < 0 || p.InitialConcurrency < 0 || p.MaxDeliveriesPerConnection < 0 || p.IdleTimeout < 0 ||
			p.MaxMessageRate.N < 0 || p.MaxConnectionRate.N < 0 {
			t.Fatalf("%s=%v gave %+v", key, v, p)
		}
	})
}

func FuzzCompileRule(f *testing.F) {
	f.Add(`^421 4\.7\.0`, "suspend", "1h", "", "site")
	f.Add(`x`, "rate", "10m", "10/min", "")
	f.Fuzz(func(t *testing.T, pattern, action, dur, rate, scope string) {
		r, err := Compile(RuleSpec{Pattern: pattern, Action: action, For: dur, Rate: rate, Scope: scope}, time.ParseDuration)
		if err != nil {
			return
		}
		if r.For <= 0 || (r.Action == Slow && r.Rate.N <= 0) {
			t.Fatalf("accepted %+v", r)
		}
		r.Pattern.MatchString("421 4.7.0 rate limited")
	})
}

func FuzzPolicyRate(f *testing.F) {
	for _, s := range []string{"10/s", "100/min", "5/h", "0/s", "+1/s", "1/day", "1000000/s", "1000000001/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p Policy
		if err := p.Set("max_message_rate", s); err != nil {
			return
		}
		r := p.MaxMessageRate
		if r.N <= 0 || r.Per <= 0 || r.Interval() <= 0 {
			t.Fatalf("%q gave %+v", s, r)
		}
		if back, err := rateOf(r.String()); err != nil || back != r {
			t.Fatalf("%q: %v does not read back: %+v, %v", s, r, back, err)
		}
	})
}

type tempErr struct{}

func (tempErr) Error() string   { return "dns: MX x.test: temporary failure" }
func (tempErr) Temporary() bool { return true }

// TestCacheMXFailure: a temporary MX failure is an error (nothing
// cached); a permanent one leaves the domain as its own MX.
func TestCacheMXFailure(t *testing.T) {
	temp := true
	c := &Cache{
		Hook: func(ctx context.Context, d Dest) (*Policy, error) { return &Policy{Site: d.MX[0]}, nil },
		LookupMX: func(ctx context.Context, domain string) ([]string, error) {
			if temp {
				return nil, tempErr{}
			}
			return nil, errors.New("dns: MX x.test: not found")
		},
	}
	if _, err := c.Policy(context.Background(), "smtp", "x.test", ""); err == nil {
		t.Error("temporary MX failure gave a policy")
	}
	temp = false
	if p, err := c.Policy(context.Background(), "smtp", "x.test", ""); err != nil || p.Site != "x.test" {
		t.Errorf("permanent MX failure: %+v, %v", p, err)
	}
}
