package rewriting

import (
	"strings"
	"testing"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/hooks/luatest"
)

func TestMain(m *testing.M) { e2e.Main(m) }

// TestLua runs scripts/*_test.lua against the scripts.
func TestLua(t *testing.T) {
	luatest.Run(t, "scripts", hooks.Config{Config: map[string]any{"myorigin": "example.test"}})
}

func TestRewriting(t *testing.T) {
	d := e2e.Setup(t, ".")
	d.Start()
	e2e.Mail(t, d.Addr, "root@web1.example.test", []string{"info@example.test", "sales@old-name.example"},
		"From: Root <root@web1.example.test>\nTo: info@example.test, sales@old-name.example\nCc: carol\nSubject: hi\n\nx\n")
	alice := d.WaitMaildir("spool/mail/alice", 1)[0]
	bob := d.WaitMaildir("spool/mail/bob", 1)[0]
	for _, want := range []string{"Return-Path: <root@example.test>", "root@example.test>", "<alice@example.test>", "<bob@example.test>", "<carol@example.test>"} {
		if !strings.Contains(alice, want) {
			t.Errorf("message lacks %q:\n%s", want, alice)
		}
	}
	if strings.Contains(alice, "web1.example.test") || strings.Contains(alice, "old-name") {
		t.Errorf("unrewritten address left:\n%s", alice)
	}
	if bob == "" {
		t.Error("bob got nothing")
	}
}
