// Package sendmail reads what the sendmail(1) command is given: Sendmail's
// option syntax (Parse), which it checks (Options.Validate) and turns into
// the envelope of a maildrop file (Options.Envelope), and the message on
// standard input (NewInput: a leading mbox "From " line dropped, a lone
// "." ending the input unless -i).
//
// Reads: the arguments and the input it is handed; it writes nothing.
// Posting the message into maildrop/ is pickup.Post's job, and the
// command itself (exit codes, -bp, -bs) is cmd/'s.
//
// Everything here is untrusted input from any local user: a bad option
// is an error naming it, an address with control characters or angle
// brackets is refused, and a read error of the input is kept so that a
// truncated message is never taken for a complete one.
package sendmail
