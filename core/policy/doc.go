// Package policy defines the decisions moonpost leaves to the operator:
// SMTP-time verdicts, authentication, cleanup rules, address rewriting,
// alias expansion and transport selection, plus the delivery events.
//
// The engine (smtpd, cleanup, resolve, local, qmgr) calls these
// interfaces; package hooks implements them with Lua scripts, and
// resolve.Static gives the Postfix-like routing used when no script
// handles an event. Every method takes a context whose deadline bounds
// the decision. What an interface has no argument for travels in that
// context: the SMTP session of an Authenticator (WithSession) and the
// message header of a Router (WithHeader, read only when asked). An
// error return is an internal fault: the caller fails the message
// temporarily (451 4.3.0 at SMTP time, deferred in the queue) and never
// accepts silently.
package policy
