package queue

import "time"

// State names a queue directory. A message's state is the directory its
// file is in; a state change is a rename.
type State string

const (
	Maildrop State = "maildrop" // untrusted local submissions, before pickup
	Incoming State = "incoming" // committed by cleanup, waiting for qmgr
	Active   State = "active"   // owned by qmgr, being delivered
	Deferred State = "deferred" // waiting for the next attempt
	Hold     State = "hold"     // parked by policy or an operator
	Corrupt  State = "corrupt"  // unreadable; kept for a human, never deleted
)

// States lists every queue directory.
var States = []State{Maildrop, Incoming, Active, Deferred, Hold, Corrupt}

// RcptState is the delivery state of one recipient.
type RcptState byte

const (
	Pending   RcptState = 'P' // not yet delivered; may carry a deferral reason
	Delivered RcptState = 'D' // done: delivered (or discarded, or expanded)
	Failed    RcptState = 'F' // done: failed permanently, to be bounced
)

// Done reports whether the recipient needs no further delivery attempt.
func (s RcptState) Done() bool { return s == Delivered || s == Failed }

// Recipient is one envelope recipient with its DSN options and state.
type Recipient struct {
	Addr   string    // address as given to RCPT TO, after cleanup rewriting
	ORcpt  string    // RFC 3461 ORCPT, "type;address", or "" when absent
	Notify string    // RFC 3461 NOTIFY: "" (default), "NEVER" or a comma list of SUCCESS,FAILURE,DELAY
	State  RcptState // see RcptState
	Reason string    // last status text ("451 4.4.1 ..."), for deferred and failed
	// Relay names who gave the last outcome, as in the delivery log line
	// ("mx.example.com[192.0.2.1]:25", "local"); "" when unknown.
	Relay string
	// Class is the bounce class of the last failure or deferral
	// ("mailbox_full", see core/classify); "" when none was given.
	Class string
	// Reported is set once a bounce or a delay warning covered this
	// recipient's failure, so a restart does not notify twice.
	Reported bool
}

// Client describes where the message came from, for Received: and logs.
type Client struct {
	Name     string // reverse DNS name or "unknown"
	Addr     string // IP address, "" for local submissions
	Helo     string // HELO/EHLO argument
	Proto    string // SMTP, ESMTP, ESMTPS, ESMTPSA, LOCAL
	AuthUser string // SASL user on an authenticated submission
}

// Envelope is everything about a message except its content.
type Envelope struct {
	ID         ID
	Arrival    time.Time
	Sender     string // envelope sender; "" is the null sender <>
	Recipients []Recipient
	Client     Client
	EnvID      string // RFC 3461 ENVID, xtext decoded
	Ret        string // RFC 3461 RET: "", "FULL" or "HDRS"
	BodyType   string // "", "7BIT" or "8BITMIME"
	SMTPUTF8   bool   // RFC 6531: addresses or headers may be UTF-8
	// Attempts counts delivery attempts so far; NextAttempt is when a
	// deferred message is due again (zero: now).
	Attempts    int
	NextAttempt time.Time
	// HoldReason says why the message is in hold/ ("" when it is not).
	HoldReason string
	// DelayWarned is set once a delay warning went to the sender.
	DelayWarned bool
	// Size is the length of the stored content in bytes.
	Size int64
	// ExtractRcpts and FullName are set by sendmail in maildrop files
	// only: take recipients from the header (-t), and the sender's full
	// name for a missing From: (-F).
	ExtractRcpts bool
	FullName     string
	// Meta is the policy's metadata for the message (Lua msg:set_meta
	// and the session's s:set_meta), string keys to string values,
	// bounded by CheckMeta. It is stored in the queue file and shown to
	// the transport hook and the delivery events.
	Meta map[string]string
	// Tenant is the customer the message is sent for, chosen by policy
	// at SMTP time or in cleanup ("" when none was). Scheduling is fair
	// between the tenants of one destination.
	Tenant string
}

// Pending returns the indexes of recipients that still need delivery.
func (e *Envelope) Pending() []int {
	var idx []int
	for i := range e.Recipients {
		if !e.Recipients[i].State.Done() {
			idx = append(idx, i)
		}
	}
	return idx
}

// Unreported returns the indexes of failed recipients not yet bounced.
func (e *Envelope) Unreported() []int {
	var idx []int
	for i, r := range e.Recipients {
		if r.State == Failed && !r.Reported {
			idx = append(idx, i)
		}
	}
	return idx
}
