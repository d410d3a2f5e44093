// Package greylist is the shipped Lua module "greylist": greylisting of
// (client network, sender, recipient) triplets with a first-seen delay,
// an allow-list and auto-allow after N passes, its state in the "kv"
// module or, with store = "redis", on the shared Redis. The policy is Lua (greylist.lua); Go gives it the client
// network (IPv4 /24, IPv6 /64, as postgrey) and CIDR matching.
//
//	local greylist = require("greylist")
//	local grey = greylist.new({delay = 300, auto_allow = 5, allow = {"192.0.2.0/24", "example.org"}})
//	mta.on("rcpt", function(s, to) return grey:check(s, to) end)
package greylist

import (
	_ "embed"
	"net/netip"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

//go:embed greylist.lua
var source string

// Loader is the lua.LGFunction for PreloadModule("greylist", Loader).
// The module needs "kv", "time" and the mta global.
func Loader(L *lua.LState) int {
	fn, err := L.LoadString(source)
	if err != nil {
		L.RaiseError("greylist: %v", err)
	}
	L.Push(fn)
	L.Call(0, 1)
	m, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		L.RaiseError("greylist: module did not return a table")
	}
	m.RawSetString("_net", L.NewFunction(luaNet))
	m.RawSetString("_in_net", L.NewFunction(luaInNet))
	return 1
}

// Network is the greylisting network of a client address: its /24 for
// IPv4, its /64 for IPv6; "" for what is not an address.
func Network(addr string) string {
	ip, err := netip.ParseAddr(strings.TrimSpace(addr))
	if err != nil {
		return ""
	}
	ip = ip.Unmap()
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p.String()
}

func luaNet(L *lua.LState) int {
	if n := Network(L.OptString(1, "")); n != "" {
		L.Push(lua.LString(n))
		return 1
	}
	L.Push(lua.LNil)
	return 1
}

// luaInNet(addr, "net/bits" or "addr") reports whether addr is inside.
func luaInNet(L *lua.LState) int {
	ip, err := netip.ParseAddr(L.OptString(1, ""))
	if err != nil {
		L.Push(lua.LFalse)
		return 1
	}
	n := L.CheckString(2)
	if !strings.Contains(n, "/") {
		a, err := netip.ParseAddr(n)
		L.Push(lua.LBool(err == nil && a.Unmap() == ip.Unmap()))
		return 1
	}
	p, err := netip.ParsePrefix(n)
	if err != nil {
		L.ArgError(2, "bad network "+n)
	}
	L.Push(lua.LBool(p.Contains(ip.Unmap()) || p.Contains(ip)))
	return 1
}
