// Package egress is the outbound shaping of a destination: what the
// egress policy (the Lua "egress" hook) decides for it, the cache that
// asks that policy once per destination and script generation, the
// pacing of message and connection rates, and the response rules that
// suspend or slow a destination when its replies say so (KumoMTA's
// traffic shaping automation).
//
// Reads: the decisions of a Hook, MX host names through the daemon's
// DNS resolver (cached there). Writes: nothing. The queue manager owns
// the live state (in flight, windows, suspensions) and enforces the
// limits; the delivery agents receive the per-connection part.
//
// Failure: a policy that errors or returns a table that does not decode
// is an error for the caller, who defers the mail with 451 4.3.0 rather
// than send it unshaped. Errors are never cached.
package egress
