package dsn

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// DefaultSizeLimit is Postfix's bounce_size_limit: the largest original
// message returned whole inside a bounce.
const DefaultSizeLimit = 50000

// RET values from RFC 3461, as stored in queue.Envelope.Ret.
const (
	RetFull = "FULL"
	RetHdrs = "HDRS"
)

// Actions from RFC 3464 §2.3.3.
const (
	ActionFailed    = "failed"
	ActionDelayed   = "delayed"
	ActionDelivered = "delivered"
	ActionRelayed   = "relayed"
	ActionExpanded  = "expanded"
)

// Notification is everything Compose needs for one DSN. The caller queues
// the result with the null envelope sender "" (or DoubleBounceSender for a
// double bounce), so that a notification never causes another one.
type Notification struct {
	Kind         Kind
	ReportingMTA string    // our hostname; also the Message-ID domain
	QueueID      string    // queue ID of the original message
	Arrival      time.Time // when the original message was queued
	// From is the display address of the From: header; empty gives
	// "MAILER-DAEMON@" + ReportingMTA.
	From string
	// To is the recipient of the notification: the original envelope
	// sender, or postmaster for a double bounce.
	To string
	// Double marks a double bounce to postmaster: its subject and text say
	// that the failed message was itself a notification.
	Double bool
	EnvID  string // RFC 3461 ENVID of the original, xtext decoded; "" when absent
	// Ret is the original RET parameter: "HDRS" returns headers only;
	// "FULL" or "" return the whole message when it fits SizeLimit.
	// Delay and success notices return headers only whatever Ret says
	// (RFC 3461 §4.3: RET is about failures).
	Ret        string
	Recipients []RcptReport
	// Original is the original message, CRLF or LF line endings. nil
	// leaves the third MIME part out, which RFC 3464 allows.
	Original io.Reader
	// SizeLimit caps the returned original; beyond it only the headers
	// are returned. Zero or less means DefaultSizeLimit.
	SizeLimit  int64
	Now        time.Time // Date: of the notification
	Postmaster string    // named in the human text as who to ask for help
}

// RcptReport is one recipient's line in the notification.
type RcptReport struct {
	Final string // the address we tried to deliver to, no angle brackets
	// ORcpt is the RFC 3461 ORCPT, "type;address" with the address xtext
	// decoded, or "" when the client did not send one.
	ORcpt string
	// Status is the outcome; nil takes the class default of the action
	// (5.0.0 failed, 4.0.0 delayed, 2.0.0 otherwise). An expired message
	// may be "failed" with a 4.x.x status, as Postfix reports it.
	Status *Status
	// Action is one of the Action constants; empty takes the kind's
	// default (failed, delayed, delivered).
	Action         string
	RemoteMTA      string    // "dns; mx.example.com"; a bare name gets "dns; "
	DiagnosticCode string    // "smtp; 550 5.1.1 user unknown"; a bare text gets "smtp; "
	LastAttempt    time.Time // zero leaves Last-Attempt-Date out
	WillRetryUntil time.Time // delay notices only; zero leaves it out
}

// validate catches the mistakes that would make a notification useless.
func (n *Notification) validate() error {
	switch {
	case n.Kind < Failure || n.Kind > Success:
		return fmt.Errorf("dsn: unknown notification kind %d", n.Kind)
	case n.ReportingMTA == "":
		return errors.New("dsn: ReportingMTA is required")
	case n.To == "":
		return errors.New("dsn: notification has no recipient (To)")
	case len(n.Recipients) == 0:
		return errors.New("dsn: notification reports no recipients")
	}
	for i, r := range n.Recipients {
		if r.Final == "" {
			return fmt.Errorf("dsn: recipient %d has no Final address", i)
		}
		if r.Action != "" && !validAction(r.Action) {
			return fmt.Errorf("dsn: recipient %d: unknown action %q", i, r.Action)
		}
	}
	return nil
}

func validAction(a string) bool {
	switch a {
	case ActionFailed, ActionDelayed, ActionDelivered, ActionRelayed, ActionExpanded:
		return true
	}
	return false
}

// action returns r's action, or the default for the notification kind.
func (r *RcptReport) action(k Kind) string {
	if r.Action != "" {
		return r.Action
	}
	switch k {
	case Delay:
		return ActionDelayed
	case Success:
		return ActionDelivered
	}
	return ActionFailed
}

// status returns r's status, or the class default for its action.
func (r *RcptReport) status(k Kind) *Status {
	if r.Status != nil {
		return r.Status
	}
	switch r.action(k) {
	case ActionFailed:
		return New(550, "5.0.0", "delivery failed")
	case ActionDelayed:
		return New(451, "4.0.0", "delivery temporarily suspended")
	}
	return New(250, "2.0.0", "delivered")
}
