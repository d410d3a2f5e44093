// Package resolve plays Postfix's trivial-rewrite role for the queue
// manager: for each recipient it decides the address class (local or
// remote) and the transport and next hop that will deliver it.
//
// The decision is the policy.Router's (the Lua "transport" hook); what it
// leaves undecided goes to Static, the one Go default that mirrors
// Postfix: mydestination domains go to local, everything else to the
// relayhost when one is set, else to smtp with an MX lookup of the
// recipient's domain. Checked decisions may be cached per script
// generation (Cache); the queue manager calls Resolve from a pool of
// workers, never from its own loop. Whatever the router says is
// checked here: an unknown transport or a malformed next hop is a
// temporary failure ("mail transport unavailable"), as in Postfix, so a
// policy typo defers mail instead of losing it.
//
// The "%" hack and "!" paths are not interpreted: "user%other@local" is a
// local recipient with an odd local part, never a relay request.
package resolve
