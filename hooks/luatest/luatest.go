// Package luatest runs Lua tests as Go subtests, so `go test ./...`
// covers the stdlib modules, the shipped scripts and the examples.
//
// A test file is any *_test.lua in a folder; each global function whose
// name starts with Test_ is one test, run in definition order with a
// `t` object:
//
//	function Test_rewrite(t)
//	  t:eq(hooks.call("rewrite", "u@old.example", {role = "sender"}), "u@new.example")
//	  t:ok(address.valid("u@d"), "valid address")
//	  if bad then t:fail("explain") end
//	end
//
// Failures report the file and line of the failing check. The folder's
// own scripts (its *.lua files that are not tests) are loaded into an
// engine first, so tests can call the live handlers through hooks.call.
package luatest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/hooks"
)

// Timeout bounds one test function.
var Timeout = 10 * time.Second

// Run runs every *_test.lua file in dir. cfg.Dir is set to dir; other
// fields (Resolver, Config, TableDirs...) are passed to the engine.
func Run(t *testing.T, dir string, cfg hooks.Config) {
	t.Helper()
	cfg.Dir = dir
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	eng, err := hooks.New(cfg)
	if err != nil {
		t.Fatalf("loading scripts in %s: %v", dir, err)
	}
	defer eng.Close()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.lua"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no *_test.lua files in %s", dir)
	}
	sort.Strings(files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runFile(t, eng, f) })
	}
}

func runFile(t *testing.T, eng *hooks.Engine, path string) {
	L := eng.NewState()
	defer L.Close()
	if err := load(L, path); err != nil {
		t.Fatal(err)
	}
	for _, tc := range testFuncs(L) {
		t.Run(tc.name, func(t *testing.T) { runTest(t, L, tc.fn) })
	}
}

// load compiles and runs the test file, which defines the Test_ functions.
func load(L *lua.LState, path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	proto, err := hooks.Compile(strings.NewReader(string(src)), filepath.Base(path))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	L.SetContext(ctx)
	defer L.RemoveContext()
	L.Push(L.NewFunctionFromProto(proto))
	return L.PCall(0, 0, nil)
}

type testFunc struct {
	name string
	fn   *lua.LFunction
}

// testFuncs lists the Test_ globals in the order they were defined.
func testFuncs(L *lua.LState) []testFunc {
	var out []testFunc
	L.G.Global.ForEach(func(k, v lua.LValue) {
		fn, ok := v.(*lua.LFunction)
		if name := k.String(); ok && strings.HasPrefix(name, "Test_") && fn.Proto != nil {
			out = append(out, testFunc{name: name, fn: fn})
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].fn.Proto.LineDefined < out[j].fn.Proto.LineDefined })
	return out
}

func runTest(t *testing.T, L *lua.LState, fn *lua.LFunction) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	L.SetContext(ctx)
	defer L.RemoveContext()
	defer L.SetTop(0)
	L.Push(fn)
	L.Push(newT(L, t))
	if err := L.PCall(1, 0, nil); err != nil {
		t.Errorf("%v", err)
	}
}
