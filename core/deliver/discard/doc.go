// Package discard holds the two delivery agents that deliver nothing:
// discard(8), which reports every recipient delivered, and error(8),
// which fails every recipient with the reason written in the route's
// next hop ("error:5.1.1 Mailbox retired").
//
// They read neither the message nor any file and write nothing but a log
// line. Both live here because they are the same few lines: an outcome
// chosen without looking at the mail.
//
// Failure: the error agent fails permanently unless its next hop carries
// a 4.x.x code, which makes it a deferral, as in Postfix.
package discard
