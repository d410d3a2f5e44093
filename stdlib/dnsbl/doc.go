// Package dnsbl is the Lua module "dnsbl": DNS blocklist and allowlist
// look-ups for a client address, scored like Postfix's
// postscreen_dnsbl_sites.
//
// A site is "domain[=filter][*weight]": domain is the list's zone, the
// optional filter restricts which answers count (each octet a number,
// "[a..b]" a range or "[a;b;c]" a set, as postscreen writes them), and
// weight (default 1, negative for allowlists) is added to the score once
// per site that lists the address. IPv4 addresses are looked up as
// reversed octets (192.0.2.1 under zen.example is 1.2.0.192.zen.example),
// IPv6 as reversed nibbles (RFC 5782). The look-ups of all sites run at
// once through the daemon's resolver and cache, under the calling hook's
// context, so a slow list never outlasts the hook's deadline; a list that
// fails is reported in errors and scores nothing.
//
//	local dnsbl = require("dnsbl")
//	local r = dnsbl.check(s.client_addr, {"zen.spamhaus.org=127.0.0.[2..11]*3", "list.dnswl.org=127.0.[0..255].[1..3]*-2"})
//	-- r.score, r.hits = {{site=, addr=, weight=}}, r.errors = {{site=, error=}}
//	dnsbl.reverse("2001:db8::1")  --> "1.0.0.0. ... .8.b.d.0.1.0.0.2"
package dnsbl
