// Package dns is the Lua module "dns": MX, address and TXT look-ups for
// policy scripts, through a Resolver the daemon injects.
//
// Scripts never open sockets themselves. Every look-up goes through the
// Resolver with the calling state's context, so a slow name server is cut
// off by the hook's deadline like any other work. Caching is the
// Resolver's job: the module keeps no state of its own.
//
//	local dns = require("dns")
//	local mxs, err = dns.mx("example.com")   -- {{host=, pref=}, ...} or nil, err
//	local ips = dns.a("mx.example.com")      -- {"192.0.2.1", ...}
//	local txts = dns.txt("example.com")      -- {"v=spf1 -all", ...}
//
// A name that does not exist gives an empty list; a failure (timeout,
// SERVFAIL) gives nil and a message, so scripts can tell "no" from "don't
// know" and defer instead of rejecting.
package dns
