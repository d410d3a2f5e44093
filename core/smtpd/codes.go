package smtpd

import "github.com/moonpost/moonpost/core/dsn"

// The replies of smtpd's own protocol checks that core/dsn's shared
// table does not need; TestSMTPDCodes pins them.
var (
	// nestedMail answers a MAIL inside a transaction (Postfix's text).
	nestedMail = dsn.New(503, "5.5.1", "Error: nested MAIL command")
	// optionAfterHelo answers an ESMTP parameter after a plain HELO
	// (RFC 5321 4.1.1.11: 555 for an unrecognised MAIL/RCPT parameter).
	optionAfterHelo = dsn.New(555, "5.5.4", "Unsupported option")
	// badBase64 answers a SASL response that is not base64 (RFC 4954 4).
	badBase64 = dsn.New(501, "5.5.2", "Error: cannot decode response")
	// nulInCommand answers a command line with a NUL byte; the line is
	// not echoed.
	nulInCommand = dsn.New(500, "5.5.2", "Error: NUL character in command")
	// tooManyErrors ends a session over HardErrorLimit or AuthFailureLimit.
	tooManyErrors = dsn.New(421, "4.7.0", "Error: too many errors")
	// noStorage answers MAIL when the queue's file system is too full
	// (Postfix's queue_minfree check).
	noStorage = dsn.New(452, "4.3.1", "Insufficient system storage")
)
