package dsn

import "strings"

// Kind says which of the three notifications a DSN is.
type Kind int

const (
	// Failure is a bounce: delivery to the listed recipients failed for good.
	Failure Kind = iota + 1
	// Delay is a warning: delivery is still being retried.
	Delay
	// Success is the notice a sender asks for with NOTIFY=SUCCESS:
	// the message was delivered, relayed or expanded.
	Success
)

// String names the kind as RFC 3461 NOTIFY spells it.
func (k Kind) String() string {
	switch k {
	case Failure:
		return "FAILURE"
	case Delay:
		return "DELAY"
	case Success:
		return "SUCCESS"
	}
	return "UNKNOWN"
}

// ShouldNotify applies a recipient's RFC 3461 NOTIFY parameter:
//
//	""        the default: FAILURE and DELAY, never SUCCESS
//	"NEVER"   nothing at all
//	a list    exactly the kinds listed, e.g. "SUCCESS,FAILURE"
//
// Matching ignores case and spaces. NEVER combined with anything else is
// invalid (smtpd should refuse it); here NEVER wins, because the sender
// has said at least once that it wants no notification. Unknown words are
// ignored. Whether delay warnings are enabled at all (Postfix's
// delay_warning_time) is the caller's decision, not this one's.
func ShouldNotify(kind Kind, notify string) bool {
	if strings.TrimSpace(notify) == "" {
		return kind == Failure || kind == Delay
	}
	want := false
	for _, word := range strings.Split(notify, ",") {
		word = strings.ToUpper(strings.TrimSpace(word))
		if word == "NEVER" {
			return false
		}
		if word == kind.String() {
			want = true
		}
	}
	return want
}

// DoubleBounceLocal is the local part of the envelope sender a double
// bounce is queued with (Postfix's double_bounce_sender). It is what stops
// the chain: a double bounce that fails is discarded, never bounced again.
const DoubleBounceLocal = "double-bounce"

// DoubleBounceSender returns the envelope sender for a double bounce to
// postmaster: double-bounce@ the postmaster's domain (or a bare
// "double-bounce" when postmaster has no domain).
func DoubleBounceSender(postmaster string) string {
	if i := strings.LastIndexByte(postmaster, '@'); i >= 0 {
		return DoubleBounceLocal + postmaster[i:]
	}
	return DoubleBounceLocal
}

// BounceTarget says where the failure notice for a message with envelope
// sender sender goes. Never bounce a bounce:
//
//   - an ordinary sender gets its own bounce: (sender, false);
//   - the null sender "" means the failed message was itself a
//     notification, so the failure goes to postmaster as a double bounce:
//     (postmaster, true). The caller queues it with envelope sender
//     DoubleBounceSender(postmaster);
//   - a sender whose local part is DoubleBounceLocal means a double bounce
//     failed: ("", true), discard it and log. The same happens to a
//     double bounce when postmaster is "".
//
// Only the local part is compared, in any case and under any domain, so
// a change of postmaster address between queueing and failure cannot
// restart the loop. The cost is that foreign mail from a sender named
// double-bounce is never bounced, which is nearly always backscatter.
//
// Delay warnings and success notices are never sent for mail from the
// null sender or from DoubleBounceLocal; only failures go to postmaster.
func BounceTarget(sender, postmaster string) (to string, double bool) {
	if sender == "" {
		return postmaster, true
	}
	if IsDoubleBounceSender(sender) {
		return "", true
	}
	return sender, false
}

// IsDoubleBounceSender reports whether sender's local part is
// DoubleBounceLocal (compared without case).
func IsDoubleBounceSender(sender string) bool {
	local := sender
	if i := strings.LastIndexByte(sender, '@'); i >= 0 {
		local = sender[:i]
	}
	return strings.EqualFold(local, DoubleBounceLocal)
}
