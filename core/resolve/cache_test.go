package resolve

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// countingRouter routes to smtp:[<sender>] and says it read what reads
// holds; fail makes it return an error.
type countingRouter struct {
	calls int
	reads policy.EnvFields
	fail  bool
}

func (r *countingRouter) Route(_ context.Context, rcpt string, env *queue.Envelope) (policy.Route, error) {
	r.calls++
	if r.fail {
		return policy.Route{}, errors.New("script error")
	}
	return policy.Route{Transport: "smtp", Nexthop: "[" + env.Sender + "]", Reads: r.reads}, nil
}

func TestCacheKeysOnWhatWasRead(t *testing.T) {
	a := &queue.Envelope{ID: "A", Sender: "s1@x", Meta: map[string]string{"plan": "gold"}}
	b := &queue.Envelope{ID: "B", Sender: "s1@x", Size: 7, Tenant: "t1", Meta: map[string]string{"plan": "gold"}, Attempts: 2}
	c := &queue.Envelope{ID: "C", Sender: "s2@x", Meta: map[string]string{"plan": "free"}}
	cases := []struct {
		name  string
		reads policy.EnvFields
		calls int // router calls for a, a, b, c in turn
	}{
		{"recipient only", 0, 1},
		{"sender", policy.ReadsSender, 2},
		{"queue id", policy.ReadsID, 3},
		{"size", policy.ReadsSize, 2},
		{"tenant", policy.ReadsTenant, 2},
		{"metadata", policy.ReadsMeta, 2},     // a and b agree on the whole map
		{"attempts", policy.ReadsAttempts, 2}, // c agrees with a
		{"everything", policy.ReadsAll, 3},
	}
	for _, tc := range cases {
		router := &countingRouter{reads: tc.reads}
		r := &Resolver{Router: router, Transports: transports, Cache: &Cache{}}
		for _, env := range []*queue.Envelope{a, a, b, c} {
			if _, err := r.Resolve(context.Background(), "u@d", env); err != nil {
				t.Fatal(err)
			}
		}
		if router.calls != tc.calls {
			t.Errorf("%s: %d router calls, want %d", tc.name, router.calls, tc.calls)
		}
	}
}

func TestCacheGenerationTTLAndErrors(t *testing.T) {
	gen, now := 1, time.Unix(1000, 0)
	router := &countingRouter{}
	cache := &Cache{Generation: func() int { return gen }, TTL: time.Minute, Now: func() time.Time { return now }}
	r := &Resolver{Router: router, Transports: transports, Cache: cache}
	env := &queue.Envelope{Sender: "s@x"}
	resolve := func() {
		t.Helper()
		if _, err := r.Resolve(context.Background(), "u@d", env); err != nil {
			t.Fatal(err)
		}
	}
	resolve()
	resolve()
	if router.calls != 1 {
		t.Fatalf("%d calls, want 1 (cached)", router.calls)
	}
	gen = 2
	resolve()
	if router.calls != 2 {
		t.Errorf("new generation served from the cache")
	}
	now = now.Add(2 * time.Minute)
	resolve()
	if router.calls != 3 {
		t.Errorf("expired decision served")
	}
	router.fail = true
	now = now.Add(2 * time.Minute)
	for i := 0; i < 2; i++ {
		if _, err := r.Resolve(context.Background(), "u@d", env); err == nil {
			t.Fatal("error swallowed")
		}
	}
	if router.calls != 5 {
		t.Errorf("%d calls: an error was cached", router.calls)
	}
	// A decision the checks refuse is not cached either.
	bad := &Resolver{Router: routerFunc(func() (policy.Route, error) { return policy.Route{Transport: "pigeon"}, nil }),
		Transports: transports, Cache: &Cache{}}
	if _, err := bad.Resolve(context.Background(), "u@d", env); err == nil {
		t.Error("unknown transport accepted")
	}
	if _, ok := bad.Cache.get("u@d", env); ok {
		t.Error("refused decision cached")
	}
}
