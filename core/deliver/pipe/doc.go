// Package pipe is the pipe(8) delivery agent: it hands a message to an
// external command on its standard input.
//
// The command is an argv vector from the transport configuration (or,
// when Config.NexthopArgv allows it, from a route's next hop written as
// "argv=/usr/bin/cmd -f ${sender} -- ${recipient}"). Macros such as
// ${sender} and ${recipient} expand into argv elements directly; no shell
// ever sees an address. An element containing a per-recipient macro is
// repeated once per recipient of the batch, as in Postfix.
//
// Reads: the queued message (CRLF), sent to the command with LF line
// endings unless Config.CRLF. Writes: nothing itself; the command does.
//
// Failure: the exit code is mapped through deliver.ExitStatus, the table
// of Postfix sys_exits.c. A time limit kills the command's whole process
// group; a timeout, a signal, a start failure or an exit code outside the
// table defers the mail. All recipients of one command run share its
// outcome.
package pipe
