package hooks

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestLuaAPIDocumentsEveryEventAndModule: docs/lua-api.md has a section
// for every event scripts may register for, and one for every module
// they may require, so the reference cannot fall behind the engine.
func TestLuaAPIDocumentsEveryEventAndModule(t *testing.T) {
	doc, err := os.ReadFile("../docs/lua-api.md")
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^###+ (.*)$").FindAllStringSubmatch(string(doc), -1) {
		for _, name := range regexp.MustCompile("`([a-z_]+)`|^([a-z_]+)$").FindAllStringSubmatch(m[1], -1) {
			headings[name[1]+name[2]] = true
		}
	}
	for _, ev := range Events {
		if !headings[ev] {
			t.Errorf("docs/lua-api.md has no section for the %q event", ev)
		}
	}
	e := newEngine(t, map[string]string{"10-list.lua": `mta.on("transport", function()
  local names = {}
  for name in pairs(package.preload) do names[#names + 1] = name end
  return "smtp:" .. table.concat(names, ",")
end)`})
	r, err := e.Route(ctx(t), "u@x", nil)
	if err != nil {
		t.Fatal(err)
	}
	modules := strings.Split(r.Nexthop, ",")
	sort.Strings(modules)
	if len(modules) < 10 {
		t.Fatalf("only %q preloaded", modules)
	}
	for _, m := range modules {
		if m != "mta" && !headings[m] {
			t.Errorf("docs/lua-api.md has no section for the %q module", m)
		}
		if !strings.Contains(string(doc), fmt.Sprintf("| [`%s`](#", m)) {
			t.Errorf("the module table of docs/lua-api.md lacks %q", m)
		}
	}
}
