package resolve

import (
	"context"
	"errors"
	"testing"

	"github.com/moonpost/moonpost/core/policy"
)

func local(d string) bool { return d == "example.com" || d == "localhost" }

var transports = map[string]bool{"smtp": true, "local": true, "lmtp": true, "error": true}

func TestStaticRouting(t *testing.T) {
	r := &Resolver{Router: Static{IsLocal: local}, Transports: transports}
	cases := map[string]string{
		"bob@example.com":             "local:example.com",
		"bob@EXAMPLE.com.":            "local:example.com",
		"bob":                         "local:",
		"bob@other.org":               "smtp:other.org",
		"user%other.org@example.com":  "local:example.com",
		"\"a@b\"@example.com":         "local:example.com",
		"\"x@example.com\"@other.org": "smtp:other.org",
		"bob@[192.0.2.1]":             "smtp:[192.0.2.1]",
	}
	for in, want := range cases {
		d, err := r.Resolve(context.Background(), in, nil)
		if err != nil || d.Key() != want {
			t.Errorf("%s -> %s, %v; want %s", in, d.Key(), err, want)
		}
	}
	r.Router = Static{IsLocal: local, RelayHost: "[relay.example.net]:587"}
	if d, _ := r.Resolve(context.Background(), "x@other.org", nil); d.Key() != "smtp:[relay.example.net]:587" {
		t.Errorf("relayhost: %s", d.Key())
	}
	if d, _ := r.Resolve(context.Background(), "x@example.com", nil); d.Transport != "local" {
		t.Errorf("relayhost took local mail: %s", d.Key())
	}
}

func TestRouterDecisionsAreChecked(t *testing.T) {
	bad := []policy.Route{
		{Transport: "carrier-pigeon", Nexthop: "x"},
		{Transport: "smtp"},
		{Transport: "lmtp", Nexthop: ""},
		{Transport: "smtp", Nexthop: "a\r\nb"},
	}
	for _, route := range bad {
		r := &Resolver{Router: routerFunc(func() (policy.Route, error) { return route, nil }), Transports: transports}
		if _, err := r.Resolve(context.Background(), "a@b", nil); err == nil {
			t.Errorf("%+v accepted", route)
		}
	}
	r := &Resolver{Router: routerFunc(func() (policy.Route, error) { return policy.Route{}, errors.New("boom") }), Transports: transports}
	if _, err := r.Resolve(context.Background(), "a@b", nil); err == nil {
		t.Error("router error swallowed")
	}
	r = &Resolver{Router: routerFunc(func() (policy.Route, error) { return policy.Route{Transport: "RELAY", Nexthop: "[r]:25"}, nil }), Transports: transports}
	if d, err := r.Resolve(context.Background(), "a@b", nil); err != nil || d.Key() != "smtp:[r]:25" {
		t.Errorf("relay alias: %v %v", d, err)
	}
}

// TestKeySeparatesOptions: recipients whose routes differ only in their
// options must not share a request, which has one set of options.
func TestKeySeparatesOptions(t *testing.T) {
	a := Destination{Transport: "local", Nexthop: "shop.example", Options: map[string]string{"mailbox": "/m/a/", "size_limit": "10"}}
	b := Destination{Transport: "local", Nexthop: "shop.example", Options: map[string]string{"mailbox": "/m/b/", "size_limit": "10"}}
	a2 := Destination{Transport: "local", Nexthop: "shop.example", Options: map[string]string{"size_limit": "10", "mailbox": "/m/a/"}}
	plain := Destination{Transport: "local", Nexthop: "shop.example"}
	if a.Key() == b.Key() || a.Key() == plain.Key() {
		t.Errorf("keys collide: %q %q %q", a.Key(), b.Key(), plain.Key())
	}
	if a.Key() != a2.Key() {
		t.Errorf("same options, different keys: %q %q", a.Key(), a2.Key())
	}
	if plain.Key() != "local:shop.example" {
		t.Errorf("plain key %q", plain.Key())
	}
}

// TestUndecidedGoesToTheDefault: a route without a transport (no script
// decided) and a missing router both fall to Static, keeping what the
// scripts read before declining.
func TestUndecidedGoesToTheDefault(t *testing.T) {
	def := Static{IsLocal: local, RelayHost: "[relay.example.net]:25"}
	declined := routerFunc(func() (policy.Route, error) { return policy.Route{Reads: policy.ReadsSender}, nil })
	for _, router := range []policy.Router{declined, nil} {
		r := &Resolver{Router: router, Default: def, Transports: transports}
		if d, err := r.Resolve(context.Background(), "bob@example.com", nil); err != nil || d.Key() != "local:example.com" {
			t.Errorf("mydestination: %s, %v", d.Key(), err)
		}
		if d, err := r.Resolve(context.Background(), "bob@other.org", nil); err != nil || d.Key() != "smtp:[relay.example.net]:25" {
			t.Errorf("relayhost: %s, %v", d.Key(), err)
		}
	}
	r := &Resolver{Router: declined, Default: Static{}, Transports: transports}
	if d, err := r.Resolve(context.Background(), "bob@other.org", nil); err != nil || d.Key() != "smtp:other.org" {
		t.Errorf("no relayhost: %s, %v", d.Key(), err)
	}
}
