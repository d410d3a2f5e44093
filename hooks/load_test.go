package hooks

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/policy"
)

func TestHandlerOrder(t *testing.T) {
	// 20 before 3? No: file-name order is byte order, "10-" < "20-" < "3-".
	e := newEngine(t, map[string]string{
		"20-b.lua": `mta.on("rewrite", function(a) if a == "both" then return "b" end end)`,
		"10-a.lua": `mta.on("rewrite", function(a) if a == "first" then return "a1" end end)
mta.on("rewrite", function(a) if a == "first" or a == "both" then return "a2" end end)`,
		"3-c.lua":       `mta.on("rewrite", function(a) return "c" end)`,
		"10-a_test.lua": `error("test files are not scripts")`,
		"notes.txt":     `not lua`,
	})
	c := ctx(t)
	for in, want := range map[string]string{"first": "a1", "both": "a2", "other": "c"} {
		if got, err := e.Rewrite(c, in, policy.AddrContext{}); err != nil || got != want {
			t.Errorf("rewrite(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		files map[string]string
		want  []string
	}{
		"syntax":         {map[string]string{"a.lua": "x = = 1"}, []string{"a.lua:1: syntax error"}},
		"runtime":        {map[string]string{"a.lua": "\nlocal x = nil\nx.y = 1"}, []string{"a.lua:3:", "load failed"}},
		"unknown event":  {map[string]string{"b.lua": "\n\nmta.on('recpt', function() end)"}, []string{"b.lua:3:", `unknown event "recpt"`}},
		"selftest error": {map[string]string{"c.lua": "mta.selftest(function()\n error('bad table') end)"}, []string{"selftest at c.lua:1", "c.lua:2: bad table"}},
		"selftest false": {map[string]string{"c.lua": "mta.selftest(function() return false end)"}, []string{"selftest at c.lua:1 returned false"}},
		"require a path": {map[string]string{"e.lua": "require('/etc/passwd')"}, []string{"e.lua:1:", "not found"}},
		"full os":        {map[string]string{"e.lua": "assert(require('os').execute)"}, []string{"e.lua:1:", "assertion failed"}},
		"on at runtime":  {map[string]string{"f.lua": "mta.selftest(function() mta.on('rcpt', print) end)"}, []string{"only while scripts load"}},
	} {
		t.Run(name, func(t *testing.T) {
			wantErrContains(t, loadErr(t, tc.files), tc.want...)
		})
	}
}

func TestSelftestPasses(t *testing.T) {
	e := newEngine(t, map[string]string{"a.lua": `
local function route(r) if r:match("@x$") then return "local" end end
mta.on("transport", route)
mta.selftest(function() assert(route("a@x") == "local") end)
mta.selftest(function() return true end)
`})
	if n, _ := e.Generation(); n != 1 {
		t.Errorf("generation = %d", n)
	}
}

func TestLoadTimeout(t *testing.T) {
	dir := t.TempDir()
	writeScripts(t, dir, map[string]string{"d.lua": "while true do end"})
	_, err := New(Config{Dir: dir, Logger: quietLogger(), LoadTimeout: 50 * time.Millisecond})
	wantErrContains(t, err, "d.lua:1:", "deadline")
}

func TestNewNeedsFolder(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("no folder accepted")
	}
	if _, err := New(Config{Dir: filepath.Join(t.TempDir(), "missing"), Logger: quietLogger()}); err == nil {
		t.Error("missing folder accepted")
	}
}
