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
package dsn
