package hooks

import (
	"reflect"
	"testing"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

const routeScript = `
mta.on("transport", function(rcpt, m)
  local d = rcpt:match("@(.*)$")
  if d == "table.example" then return {transport = "smtp", nexthop = "[mx.example]:25", options = {size_limit = 1000, tls = true}} end
  if d == "relay.example" then return "smtp:[relay]:587" end
  if d == "lmtp.example" then return "lmtp:unix:/run/dovecot/lmtp" end
  if d == "retired.example" then return "error:5.1.1 retired" end
  if d == "local.example" then return "local" end
  if d == "info.example" then return {transport = "smtp", nexthop = m.sender .. "/" .. m.id .. "/" .. m.size .. "/" .. m.client.name} end
  if d == "sender.example" then return "smtp:[" .. m.sender .. "]" end
  if d == "typo.example" then return {transport = "smtp", nexhop = "x"} end
  if d == "badtr.example" then return "carrier-pigeon:roof" end
  if d == "badopt.example" then return {transport = "smtp", options = {x = {}}} end
  if d == "number.example" then return 7 end
end)
`

func TestRoute(t *testing.T) {
	e := newEngine(t, map[string]string{"20-route.lua": routeScript})
	env := &queue.Envelope{ID: "ID1", Sender: "s@x", Size: 99, Client: queue.Client{Name: "c.example"}}
	cases := []struct {
		rcpt    string
		want    policy.Route
		wantErr string
	}{
		{"a@table.example", policy.Route{Transport: "smtp", Nexthop: "[mx.example]:25", Options: map[string]string{"size_limit": "1000", "tls": "true"}}, ""},
		{"a@relay.example", policy.Route{Transport: "smtp", Nexthop: "[relay]:587"}, ""},
		{"a@lmtp.example", policy.Route{Transport: "lmtp", Nexthop: "unix:/run/dovecot/lmtp"}, ""},
		{"a@retired.example", policy.Route{Transport: "error", Nexthop: "5.1.1 retired"}, ""},
		{"a@local.example", policy.Route{Transport: "local"}, ""},
		{"a@info.example", policy.Route{Transport: "smtp", Nexthop: "s@x/ID1/99/c.example", Reads: readsFour}, ""},
		{"a@sender.example", policy.Route{Transport: "smtp", Nexthop: "[s@x]", Reads: policy.ReadsSender}, ""}, // what a cache must key on
		{"a@other.example", policy.Route{}, ""},                                                                // no decision: the engine's Go default applies
		{"a@typo.example", policy.Route{}, `20-route.lua:2 (generation 1): transport handler returned unknown key "nexhop"`},
		{"a@badtr.example", policy.Route{}, `unknown transport "carrier-pigeon"`},
		{"a@badopt.example", policy.Route{}, `option "x"`},
		{"a@number.example", policy.Route{}, `20-route.lua:2`},
	}
	for _, tc := range cases {
		t.Run(tc.rcpt, func(t *testing.T) {
			got, err := e.Route(ctx(t), tc.rcpt, env)
			if tc.wantErr != "" {
				wantErrContains(t, err, tc.wantErr)
				return
			}
			if got.Generation != 1 {
				t.Errorf("decided by generation %d, want 1", got.Generation)
			}
			got.Generation = 0
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestRewriteAndAlias(t *testing.T) {
	e := newEngine(t, map[string]string{"30-addr.lua": `
mta.on("rewrite", function(addr, c)
  if c.role == "sender" and c.where == "header" and c.header == "From" then return (addr:gsub("@old%.example$", "@new.example")) end
  if addr == "null@x" then return "" end
  if addr == "evil@x" then return "a@x\r\nRCPT TO:<b@x>" end
  if addr == "num@x" then return 1 end
end)
mta.on("alias", function(l, d)
  if l == "postmaster" then return {"root@" .. d, "|/usr/bin/log", "/var/log/pm"} end
  if l == "one" then return "solo@x" end
  if l == "empty" then return {} end
  if l == "map" then return {a = "b"} end
end)
`})
	c := ctx(t)
	hdrFrom := policy.AddrContext{Role: "sender", Where: "header", Header: "From"}
	rcptEnv := policy.AddrContext{Role: "recipient", Where: "envelope"}
	for _, tc := range []struct {
		addr    string
		ac      policy.AddrContext
		want    string
		wantErr string
	}{
		{"u@old.example", hdrFrom, "u@new.example", ""},
		{"u@old.example", rcptEnv, "u@old.example", ""},
		{"null@x", policy.AddrContext{Role: "sender"}, "", ""},
		{"null@x", rcptEnv, "", "empty address"},
		{"evil@x", rcptEnv, "", "invalid address"},
		{"num@x", rcptEnv, "", "30-addr.lua:2"},
	} {
		got, err := e.Rewrite(c, tc.addr, tc.ac)
		if tc.wantErr != "" {
			wantErrContains(t, err, tc.wantErr)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("rewrite(%s, %+v) = %q, %v", tc.addr, tc.ac, got, err)
		}
	}
	targets, found, err := e.ExpandAlias(c, "postmaster", "x.example")
	if err != nil || !found || !reflect.DeepEqual(targets, []string{"root@x.example", "|/usr/bin/log", "/var/log/pm"}) {
		t.Errorf("alias = %q %v %v", targets, found, err)
	}
	if targets, found, err = e.ExpandAlias(c, "one", "x"); err != nil || !found || len(targets) != 1 {
		t.Errorf("alias one = %q %v %v", targets, found, err)
	}
	_, _, err = e.ExpandAlias(c, "empty", "x")
	wantErrContains(t, err, "empty")
	_, _, err = e.ExpandAlias(c, "map", "x")
	wantErrContains(t, err, `key "a"`, "30-addr.lua:8")
}
