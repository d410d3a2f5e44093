// Package dns is moonpost's resolver: MX, address, TXT and PTR lookups over
// github.com/miekg/dns, for the smtp delivery agent, the SMTP server's
// policy checks and the Lua dns module.
//
// What it does: sends each question to the configured servers in turn
// (UDP first, TCP again when the answer is truncated), follows CNAME
// chains up to eight links, and keeps answers in a bounded cache for
// their TTL, negative answers for the zone's SOA minimum. MX answers come
// back sorted by preference, equal preferences in random order; a domain
// with no MX but an address is its own implicit MX (RFC 5321 5.1).
// Unicode domains are converted to A-labels (IDNA) before any lookup.
//
// What it reads: /etc/resolv.conf once, in New, when Config.Servers is
// empty. It writes nothing.
//
// How it fails: every lookup error is a *LookupError whose Kind says what
// the mail system should do. NotFound (NXDOMAIN, or a domain that has
// neither MX nor address) and NullMX (RFC 7505) are permanent; anything
// else (SERVFAIL, REFUSED, a timeout, a cancelled context, a CNAME loop)
// is Temporary. LookupError.Status maps the Kind onto the dsn table, so a
// DNS outcome becomes a delivery outcome in one call. When unsure, the
// answer is Temporary: a flaky resolver defers mail, never bounces it.
package dns
