package hooks

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// domainClasses answers mta.domain_class from the daemon configuration
// the scripts see (Config.Config), so no script keeps its own copy of
// mydestination or relay_domains.
type domainClasses struct {
	local, relay map[string]bool
}

func newDomainClasses(cfg map[string]any) *domainClasses {
	return &domainClasses{local: domainSet(cfg["mydestination"]), relay: domainSet(cfg["relay_domains"])}
}

// domainSet reads a list of domains given as []string or []any.
func domainSet(v any) map[string]bool {
	set := map[string]bool{}
	switch list := v.(type) {
	case []string:
		for _, d := range list {
			set[normDomain(d)] = true
		}
	case []any:
		for _, d := range list {
			if s, ok := d.(string); ok {
				set[normDomain(s)] = true
			}
		}
	}
	return set
}

func normDomain(d string) string { return strings.ToLower(strings.TrimSuffix(d, ".")) }

// class is "local" for a domain of mydestination (and for "", the
// domain of a bare name, which the engine delivers locally), "relay"
// for one of relay_domains, "" otherwise. Matching ignores case and a
// final dot; an argument with an '@' is taken as an address.
func (c *domainClasses) class(d string) string {
	if at := strings.LastIndexByte(d, '@'); at >= 0 {
		d = d[at+1:]
	}
	d = normDomain(d)
	switch {
	case d == "" || c.local[d]:
		return "local"
	case c.relay[d]:
		return "relay"
	}
	return ""
}

// luaDomainClass is mta.domain_class(domain_or_address): "local",
// "relay" or nil.
func (c *domainClasses) luaDomainClass(L *lua.LState) int {
	if cl := c.class(L.CheckString(1)); cl != "" {
		L.Push(lua.LString(cl))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}
