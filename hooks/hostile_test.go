package hooks

import (
	"runtime"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/policy"
)

const hostileScript = `
local function recurse(n) return recurse(n + 1) + 1 end
local attacks = {
  loop = function() while true do end end,
  pcall_loop = function() while true do pcall(function() while true do end end) end end,
  coroutine_loop = function() coroutine.resume(coroutine.create(function() while true do end end)) end,
  recursion = function() recurse(1) end,
  rep = function() return string.rep("x", 1e9) end,
  format = function() return string.format("%999999999d", 1) end,
  concat = function() local t = {} for i = 1, 20 do t[i] = string.rep("x", 1e5) end return table.concat(t) end,
  table_growth = function() local t = {} local i = 0 while true do i = i + 1 t[i] = {i} end end,
  doubling = function() local s = "x" while true do s = s .. s end end,
  error = function() error("handler exploded") end,
  os_execute = function() os.execute("true") end,
  io_open = function() io.open("/etc/passwd") end,
  dofile = function() dofile("/etc/passwd") end,
  loadfile = function() loadfile("/etc/passwd") end,
  require_io = function() require("io") end,
  require_path = function() require("../../etc/passwd") end,
  debug = function() debug.getinfo(1) end,
  collectgarbage = function() collectgarbage() end,
  setmetatable_string = function() getmetatable("").__index = nil end,
}
mta.on("rcpt", function(s, to)
  local a = attacks[to]
  if a then a() return mta.accept() end
  if to == "ok" then return mta.reject(550, "5.1.1", "normal") end
end)
`

func TestHostileScripts(t *testing.T) {
	e := newEngine(t, map[string]string{"66-hostile.lua": hostileScript}, func(c *Config) {
		// Long enough that the size bounds, not the deadline, stop the
		// attacks that have one, even on a loaded machine under -race.
		c.CallTimeout = time.Second
		c.PoolSize = 1
		c.MaxString = 1 << 20 // the concat attack builds 2 MB
	})
	s := &policy.Session{}
	for attack, want := range map[string]string{
		"loop":           "timed out",
		"pcall_loop":     "timed out",
		"coroutine_loop": "timed out",
		"recursion":      "stack overflow",
		"rep":            "string.rep: result longer",
		"format":         "field width",
		"concat":         "table.concat: result longer",
		"table_growth":   "timed out",
		"doubling":       "string concatenation: result longer",
		"error":          "66-hostile.lua:13: handler exploded",
		"os_execute":     "66-hostile.lua:14:",
		"io_open":        "66-hostile.lua:15:",
		"dofile":         "66-hostile.lua:16:",
		"loadfile":       "66-hostile.lua:17:",
		"require_io":     "module io not found",
		"require_path":   "not found",
		"debug":          "66-hostile.lua:20:",
		"collectgarbage": "66-hostile.lua:21:",
	} {
		t.Run(attack, func(t *testing.T) {
			st, err := e.Rcpt(ctx(t), s, attack)
			wantErrContains(t, err, want, "generation 1")
			if st != nil {
				t.Errorf("status %v alongside an error", st)
			}
			assertHealthy(t, e)
		})
	}
}

// assertHealthy checks that normal calls still work.
func assertHealthy(t *testing.T, e *Engine) {
	t.Helper()
	st, err := e.Rcpt(ctx(t), &policy.Session{}, "ok")
	if err != nil || st == nil || st.Code != 550 {
		t.Fatalf("engine unhealthy after attack: %v, %v", st, err)
	}
}

func TestMemoryWatchdog(t *testing.T) {
	const limit = 64 << 20
	e := newEngine(t, map[string]string{"66-hostile.lua": hostileScript}, func(c *Config) {
		c.CallTimeout = time.Minute // only the watchdog can stop these
		c.MemoryLimit = limit
	})
	for _, attack := range []string{"table_growth"} {
		t.Run(attack, func(t *testing.T) {
			start := time.Now()
			_, err := e.Rcpt(ctx(t), &policy.Session{}, attack)
			wantErrContains(t, err, "memory limit exceeded")
			if d := time.Since(start); d > 50*time.Second {
				t.Errorf("took %v", d)
			}
			assertHealthy(t, e)
		})
	}
}

func TestStringMetatableIsHidden(t *testing.T) {
	e := newEngine(t, map[string]string{"66-hostile.lua": hostileScript}, func(c *Config) { c.PoolSize = 1 })
	_, err := e.Rcpt(ctx(t), &policy.Session{}, "setmetatable_string")
	wantErrContains(t, err, "66-hostile.lua:22:")
	if got, err := e.Rewrite(ctx(t), "a@b", policy.AddrContext{}); err != nil || got != "a@b" {
		t.Fatalf("rewrite after attack: %q, %v", got, err)
	}
}

// TestMemoryLimitIsPerCall: a heap already far above the limit (a full
// kv store, say) does not fail calls that allocate little; a call that
// grows the heap by more than the limit still fails.
func TestMemoryLimitIsPerCall(t *testing.T) {
	const limit = 64 << 20
	e := newEngine(t, map[string]string{"66-hostile.lua": hostileScript + `
mta.on("rcpt", function(s, to)
  if to == "busy" then
    local t0 = os.clock()
    while os.clock() - t0 < 0.05 do end -- 50 ms: ten samples of the watch
    return mta.reject(550, "5.1.1", "busy")
  end
end)`}, func(c *Config) {
		c.CallTimeout = time.Minute
		c.MemoryLimit = limit
	})
	ballast := make([][]byte, 0, 4*limit>>20)
	for range cap(ballast) {
		ballast = append(ballast, make([]byte, 1<<20)) // 4× the limit, live
	}
	// Calls take the watch's last sample as their baseline: wait for one
	// that includes the ballast.
	for deadline := time.Now().Add(5 * time.Second); e.mem.heap.Load() < 4*limit; {
		if time.Now().After(deadline) {
			t.Fatal("the watch never sampled the ballast")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 5 {
		st, err := e.Rcpt(ctx(t), &policy.Session{}, "busy")
		if err != nil || st == nil || st.Code != 550 {
			t.Fatalf("call %d with a big heap: %v, %v", i, st, err)
		}
	}
	if n := e.Lua().MemoryStops; n != 0 {
		t.Fatalf("%d calls counted as stopped before any was", n)
	}
	_, err := e.Rcpt(ctx(t), &policy.Session{}, "table_growth")
	wantErrContains(t, err, "memory limit exceeded")
	if n := e.Lua().MemoryStops; n != 1 {
		t.Errorf("memory stops counted %d, want 1", n)
	}
	runtime.KeepAlive(ballast)
}
