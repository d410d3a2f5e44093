package hooks_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luatest"
	"github.com/moonpost/moonpost/stdlib/dns"
)

type fakeResolver struct{}

func (fakeResolver) LookupMX(_ context.Context, name string) ([]dns.MX, error) {
	switch name {
	case "example.org":
		return []dns.MX{{Host: "mx.example.org", Pref: 10}}, nil
	case "servfail.example":
		return nil, errors.New("SERVFAIL")
	}
	return nil, dns.ErrNotFound
}

func (fakeResolver) LookupHost(_ context.Context, name string) ([]string, error) {
	return []string{"192.0.2.25"}, nil
}

func (fakeResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	return []string{"v=spf1 -all"}, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestScriptsFolder runs a folder's scripts and its Lua tests the way
// scripts/ and examples/ use the runner.
func TestScriptsFolder(t *testing.T) {
	var logs syncBuffer
	luatest.Run(t, "testdata/scripts", hooks.Config{
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		Resolver: fakeResolver{},
		Config:   map[string]any{"mydomain": "example.org", "mydestination": []string{"example.org", "localhost"}},
	})
	out := logs.String()
	for _, want := range []string{"msg=hello", "k=v", "script=policy_test.lua:58", "generation=1", `msg="printed\t1"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
}
