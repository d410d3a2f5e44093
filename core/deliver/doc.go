// Package deliver defines the contract between the queue manager and the
// delivery agents (smtp, lmtp, local, pipe, discard, error), and the
// per-recipient outcome they report.
//
// An agent is given one Request: one message, one or more recipients that
// share a transport and next hop. It returns exactly one dsn.Status per
// recipient, in request order. The agent never touches the queue: the
// queue manager records each outcome (delivered, deferred, failed) in the
// queue file after Deliver returns. An agent that cannot tell what
// happened reports a temporary failure, so mail is retried, never lost.
package deliver
