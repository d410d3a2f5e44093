package dsn

// The fixed statuses the engine answers with. Texts here are what a client
// sees; details go to the log, never to the client.
var (
	Queued = &Status{250, Enhanced{2, 0, 0}, "Ok"}
	Sent   = &Status{250, Enhanced{2, 0, 0}, "Ok"}

	// Internal and transient local conditions.
	TempLocal       = &Status{451, Enhanced{4, 3, 0}, "Error: queue file write error, try again later"}
	TempPolicy      = &Status{451, Enhanced{4, 3, 0}, "Error: policy temporarily unavailable, try again later"}
	DiskFull        = &Status{452, Enhanced{4, 3, 1}, "Error: insufficient system storage"}
	ShuttingDown    = &Status{421, Enhanced{4, 3, 2}, "Service shutting down, closing transmission channel"}
	TooManyConns    = &Status{421, Enhanced{4, 7, 0}, "Error: too many connections, try again later"}
	TooManyFromHost = &Status{421, Enhanced{4, 7, 0}, "Error: too many connections from your host"}
	IdleTimeout     = &Status{421, Enhanced{4, 4, 2}, "Error: timeout exceeded"}
	SessionPanic    = &Status{421, Enhanced{4, 3, 0}, "Error: internal error, closing connection"}
	TooManyRcpts    = &Status{452, Enhanced{4, 5, 3}, "Error: too many recipients"}
	// ConfigError: a route or its transport options make no sense to the
	// agent (a policy typo). The mail waits for the admin, as Postfix
	// does for "server configuration error".
	ConfigError = &Status{451, Enhanced{4, 3, 5}, "Error: server configuration error, try again later"}

	// Permanent refusals.
	RelayDenied   = &Status{554, Enhanced{5, 7, 1}, "Relay access denied"}
	MessageTooBig = &Status{552, Enhanced{5, 3, 4}, "Error: message file too big"}
	// RcptTooBig is a limit of one recipient (a mailbox, a customer, a
	// pipe), smaller than the system's: RFC 3463 X.2.3, where X.3.4 is
	// the whole system's limit. Postfix's pipe(8) answers the same.
	RcptTooBig     = &Status{552, Enhanced{5, 2, 3}, "message length exceeds administrative limit"}
	BadSyntax      = &Status{501, Enhanced{5, 5, 4}, "Syntax error in parameters or arguments"}
	BadSender      = &Status{501, Enhanced{5, 1, 7}, "Bad sender address syntax"}
	BadRecipient   = &Status{501, Enhanced{5, 1, 3}, "Bad recipient address syntax"}
	BadSequence    = &Status{503, Enhanced{5, 5, 1}, "Error: bad sequence of commands"}
	NoRecipients   = &Status{554, Enhanced{5, 5, 1}, "Error: no valid recipients"}
	UnknownUser    = &Status{550, Enhanced{5, 1, 1}, "Recipient address rejected: User unknown"}
	BareNewline    = &Status{554, Enhanced{5, 6, 2}, "Error: bare <LF> received"}
	AuthNeedsTLS   = &Status{530, Enhanced{5, 7, 0}, "Must issue a STARTTLS command first"}
	AuthFailed     = &Status{535, Enhanced{5, 7, 8}, "Error: authentication failed"}
	HeaderTooBig   = &Status{552, Enhanced{5, 3, 4}, "Error: message header size exceeds limit"}
	BadMessage     = &Status{554, Enhanced{5, 6, 0}, "Error: message content rejected"}
	MailLoop       = &Status{554, Enhanced{5, 4, 6}, "mail forwarding loop"}
	NullMX         = &Status{556, Enhanced{5, 1, 10}, "Recipient address rejected: domain does not accept mail (null MX)"}
	NoSuchDomain   = &Status{550, Enhanced{5, 1, 2}, "Host or domain name not found"}
	TooOld         = &Status{554, Enhanced{5, 4, 7}, "message was too old: delivery time expired"}
	Discarded      = &Status{250, Enhanced{2, 0, 0}, "Ok: discarded"}
	DNSTemp        = &Status{451, Enhanced{4, 4, 3}, "Host or domain name lookup failed, try again later"}
	ConnectFailed  = &Status{451, Enhanced{4, 4, 1}, "connection to the destination failed"}
	RemoteTimeout  = &Status{451, Enhanced{4, 4, 2}, "connection to the destination timed out"}
	RemoteProtocol = &Status{451, Enhanced{4, 5, 0}, "protocol error talking to the destination"}

	// SMTP server protocol replies (core/smtpd).
	NeedHelo       = &Status{503, Enhanced{5, 5, 1}, "Error: send HELO/EHLO first"}
	NeedMail       = &Status{503, Enhanced{5, 5, 1}, "Error: need MAIL command"}
	NeedRcpt       = &Status{503, Enhanced{5, 5, 1}, "Error: need RCPT command"}
	UnknownCommand = &Status{500, Enhanced{5, 5, 2}, "Error: command not recognized"}
	LineTooLong    = &Status{500, Enhanced{5, 5, 0}, "Error: line too long"}
	AuthRequired   = &Status{530, Enhanced{5, 7, 0}, "Authentication required"}
	AuthDisabled   = &Status{503, Enhanced{5, 5, 1}, "Error: authentication not enabled"}
	AuthTemp       = &Status{454, Enhanced{4, 7, 0}, "Temporary authentication failure"}
)

// All lists the table for tests and documentation.
var All = map[string]*Status{
	"Queued": Queued, "Sent": Sent, "TempLocal": TempLocal, "TempPolicy": TempPolicy,
	"DiskFull": DiskFull, "ShuttingDown": ShuttingDown, "TooManyConns": TooManyConns,
	"TooManyFromHost": TooManyFromHost, "IdleTimeout": IdleTimeout, "SessionPanic": SessionPanic,
	"TooManyRcpts": TooManyRcpts, "ConfigError": ConfigError, "RcptTooBig": RcptTooBig, "RelayDenied": RelayDenied, "MessageTooBig": MessageTooBig,
	"BadSyntax": BadSyntax, "BadSender": BadSender, "BadRecipient": BadRecipient,
	"BadSequence": BadSequence, "NoRecipients": NoRecipients, "UnknownUser": UnknownUser,
	"BareNewline": BareNewline, "AuthNeedsTLS": AuthNeedsTLS, "AuthFailed": AuthFailed,
	"HeaderTooBig": HeaderTooBig, "BadMessage": BadMessage, "MailLoop": MailLoop,
	"NullMX": NullMX, "NoSuchDomain": NoSuchDomain, "TooOld": TooOld, "Discarded": Discarded,
	"DNSTemp": DNSTemp, "ConnectFailed": ConnectFailed, "RemoteTimeout": RemoteTimeout,
	"RemoteProtocol": RemoteProtocol,
	"NeedHelo":       NeedHelo, "NeedMail": NeedMail, "NeedRcpt": NeedRcpt,
	"UnknownCommand": UnknownCommand, "LineTooLong": LineTooLong,
	"AuthRequired": AuthRequired, "AuthDisabled": AuthDisabled, "AuthTemp": AuthTemp,
}
