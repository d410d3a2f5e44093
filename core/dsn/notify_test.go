package dsn

import "testing"

func TestShouldNotify(t *testing.T) {
	cases := []struct {
		notify                  string
		failure, delay, success bool
	}{
		{"", true, true, false}, // RFC 3461 default: failures and delays
		{"  ", true, true, false},
		{"NEVER", false, false, false},
		{"never", false, false, false},
		{"FAILURE", true, false, false},
		{"DELAY", false, true, false},
		{"SUCCESS", false, false, true},
		{"SUCCESS,FAILURE", true, false, true},
		{"success, delay ,failure", true, true, true},
		{"FAILURE,NEVER", false, false, false}, // invalid; NEVER wins
		{"BOGUS", false, false, false},         // explicit list naming nothing we know
		{"BOGUS,DELAY", false, true, false},
	}
	for _, c := range cases {
		got := [3]bool{ShouldNotify(Failure, c.notify), ShouldNotify(Delay, c.notify), ShouldNotify(Success, c.notify)}
		want := [3]bool{c.failure, c.delay, c.success}
		if got != want {
			t.Errorf("NOTIFY=%q: failure/delay/success = %v, want %v", c.notify, got, want)
		}
	}
	if ShouldNotify(Kind(0), "") || ShouldNotify(Kind(99), "FAILURE,DELAY,SUCCESS") {
		t.Error("an unknown kind must never notify")
	}
}

func TestBounceTarget(t *testing.T) {
	const pm = "postmaster@mail.example.com"
	cases := []struct {
		sender, postmaster string
		to                 string
		double             bool
	}{
		{"alice@example.com", pm, "alice@example.com", false},
		{"", pm, pm, true}, // a bounce failed: double bounce to postmaster
		{"double-bounce@mail.example.com", pm, "", true}, // a double bounce failed: discard
		{"Double-Bounce@other.example", pm, "", true},    // any domain, any case
		{"double-bounce", pm, "", true},                  // no domain
		{"double-bounce-not@example.com", pm, "double-bounce-not@example.com", false},
		{"", "", "", true}, // no postmaster: discard
	}
	for _, c := range cases {
		to, double := BounceTarget(c.sender, c.postmaster)
		if to != c.to || double != c.double {
			t.Errorf("BounceTarget(%q, %q) = %q, %v; want %q, %v", c.sender, c.postmaster, to, double, c.to, c.double)
		}
	}
}

func TestDoubleBounceSenderStopsTheChain(t *testing.T) {
	for _, pm := range []string{"postmaster@mail.example.com", "root@ops.example", "postmaster"} {
		// The double bounce is queued with this sender; when it fails,
		// BounceTarget must say discard.
		sender := DoubleBounceSender(pm)
		if to, double := BounceTarget(sender, pm); to != "" || !double {
			t.Errorf("postmaster %q: failure of double bounce from %q goes to %q", pm, sender, to)
		}
	}
	if got := DoubleBounceSender("postmaster@mail.example.com"); got != "double-bounce@mail.example.com" {
		t.Errorf("DoubleBounceSender = %q", got)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Failure: "FAILURE", Delay: "DELAY", Success: "SUCCESS", 0: "UNKNOWN"} {
		if k.String() != want {
			t.Errorf("Kind(%d) = %s, want %s", k, k, want)
		}
	}
}
