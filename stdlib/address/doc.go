// Package address is the Lua module "address": parsing, normalising and
// validating mail addresses.
//
// Domains are compared in lower case and in their IDNA A-label form
// ("xn--..."), because that is what DNS and the queue use; U-labels are
// there for display. Local parts are left as written: RFC 5321 says only
// the destination may interpret their case.
//
//	local address = require("address")
//	local a = address.parse("Foo <A@Example.COM>") -- {local="A", domain="example.com", display="Foo"}
//	address.normalize("u@BÜCHER.example")           -- "u@xn--bcher-kva.example"
//	address.extension("u+tag@d")                    -- "tag"
//	address.strip_extension("u+tag@d")              -- "u@d"
package address
