// Package bounce is Postfix's bounce(8) role: it turns the queue
// manager's request "tell the sender about these recipients" into an RFC
// 3464 delivery status notification and queues it through cleanup, from
// the null sender.
//
// NOTIFY decides who is reported (RFC 3461); a bounce of a bounce goes to
// the postmaster as a double bounce, and a failed double bounce is
// discarded, so mail about mail can never loop. Notify returns only once
// the notice is committed to the queue; an error leaves the recipients
// unreported and the queue manager keeps the original until a notice
// goes out.
package bounce
