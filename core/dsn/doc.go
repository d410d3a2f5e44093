// Package dsn holds moonpost's one outcome type for mail results and the
// delivery status notifications built from it.
//
// A Status carries an SMTP reply code, an RFC 3463 enhanced status code and
// a text, in the shape of go-smtp's SMTPError. Whether a result is temporary
// or permanent follows from the code alone. Every fixed status the engine
// uses lives in the table in codes.go, and that table is tested: a 4xx code
// never carries a 5.x.x enhanced code or the other way round.
//
// When unsure, fail temporarily: FromError turns any error that is not a
// Status into 451 4.3.0, so an internal fault never becomes a bounce.
//
// Notifications (the bounce(8) role): Compose writes an RFC 3464
// multipart/report for a failure (bounce), a delay warning or a success
// notice, in Postfix's wording. It reads the original message (up to the
// size limit) and writes nothing to disk; the caller queues the result with
// the null sender. ShouldNotify applies a recipient's NOTIFY parameter and
// BounceTarget the rule that a bounce is never bounced: a failed bounce
// goes to postmaster as a double bounce, and a failed double bounce is
// discarded. ParseReport reads such reports back, for tests here and in
// other packages; it is fuzzed. docs/bounces.md describes the behaviour
// for operators.
package dsn
