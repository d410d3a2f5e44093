package hooks

import (
	"testing"
)

func statsOf(e *Engine, event string, gen int) (CallStats, bool) {
	for _, s := range e.CallStats() {
		if s.Event == event && s.Generation == gen {
			return s, true
		}
	}
	return CallStats{}, false
}

// Real hook calls are counted by event and generation, failures too, and
// the previous generation's figures survive a reload.
func TestCallStatsByEventAndGeneration(t *testing.T) {
	script := `mta.on("transport", function(rcpt)
  if rcpt == "boom@x.test" then error("boom") end
  return {transport = "smtp", nexthop = "[mx.test]"}
end)`
	e := newEngine(t, map[string]string{"50-route.lua": script})
	for _, rcpt := range []string{"a@x.test", "b@x.test", "boom@x.test"} {
		e.Route(ctx(t), rcpt, nil)
	}
	s, ok := statsOf(e, "transport", 1)
	if !ok || s.Calls != 3 || s.Errors != 1 || s.Latency.Count != 3 || s.Latency.Sum <= 0 {
		t.Fatalf("generation 1 transport: %+v (found %v)", s, ok)
	}
	if _, ok := statsOf(e, "rcpt", 1); ok {
		t.Error("an event without handlers is reported")
	}
	writeScripts(t, e.cfg.Dir, map[string]string{"50-route.lua": script + "\n-- v2"})
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	e.Route(ctx(t), "a@x.test", nil)
	if s, _ := statsOf(e, "transport", 2); s.Calls != 1 || s.Errors != 0 {
		t.Errorf("generation 2: %+v", s)
	}
	if s, _ := statsOf(e, "transport", 1); s.Calls != 3 {
		t.Errorf("generation 1 after the reload: %+v", s)
	}
	lua := e.Lua()
	if lua.Generation != 2 || lua.IdleStates < 1 || lua.Busy != 0 || lua.MemoryLimit <= 0 {
		t.Errorf("lua figures %+v", lua)
	}
}

// Only a bounded number of generations is reported.
func TestCallStatsKeepsFewGenerations(t *testing.T) {
	e := newEngine(t, map[string]string{"50-route.lua": `mta.on("transport", function() return nil end)`})
	for i := 0; i < keptGenerations+3; i++ {
		if err := e.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	gens := map[int]bool{}
	for _, s := range e.CallStats() {
		gens[s.Generation] = true
	}
	n, _ := e.Generation()
	if len(gens) != keptGenerations || !gens[n] || !gens[n-keptGenerations+1] {
		t.Errorf("generations reported %v, live %d", gens, n)
	}
}
