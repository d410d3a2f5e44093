// Package mtasts is the sending side of SMTP MTA Strict Transport
// Security (RFC 8461): it tells the smtp agent which MX hosts a
// recipient domain allows and whether TLS with a verified certificate is
// required to reach them.
//
// What it does: for a domain, it reads the "_mta-sts.<domain>" TXT
// record through the daemon's resolver (v=STSv1; id=...), and when the
// id is new or the cached policy has expired it fetches
// https://mta-sts.<domain>/.well-known/mta-sts.txt: HTTPS only, the
// certificate verified for that name, no redirects, no HTTP caching, at
// most MaxPolicySize bytes within Fetcher.Timeout, Content-Type
// text/plain. The body is parsed strictly (ParsePolicy).
//
// What it keeps: one policy per domain, with its id and its expiry
// (fetch time + max_age), refreshed in the background once half its
// max_age has passed, in memory and, when Cache.Dir is set, one
// file per domain written by temp file, fsync and rename, so a restart
// keeps the policies (an attacker who strips the TXT record or blocks
// the HTTPS fetch after a restart gains nothing).
//
// How it fails: as RFC 8461 §5.1 says, a cached policy that has not
// expired stays in force when the TXT record vanishes, the lookup fails
// or the new policy cannot be fetched. With no cached policy a failed
// fetch means "no policy": mail goes out under the agent's own TLS
// level, and the failure (an *Error carrying its RFC 8460 result type)
// is handed to TLS reporting. The daemon turns Cache.Policy into the
// smtp agent's policy hook (cmd/internal/app, smtptls.go); this package
// does not know the agent. A failed fetch is not retried for
// FailureTTL, so a broken policy server costs one fetch, not one per
// message.
package mtasts
