package discard

import (
	"context"
	"testing"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/deliver/internal/testmsg"
)

func TestErrorStatus(t *testing.T) {
	cases := map[string]string{
		"":                        "550 5.0.0 mail delivery disabled",
		"Mailbox retired":         "550 5.0.0 Mailbox retired",
		"5.1.1 Mailbox retired":   "550 5.1.1 Mailbox retired",
		"4.2.1 Try later":         "451 4.2.1 Try later",
		"552 5.2.2 Mailbox full":  "552 5.2.2 Mailbox full",
		"450 4.2.0 later":         "450 4.2.0 later",
		"450 5.1.1 mismatch":      "550 5.1.1 mismatch",
		"250 2.0.0 sneaky":        "550 5.0.0 250 2.0.0 sneaky",
		"2.0.0 sneaky":            "550 5.0.0 2.0.0 sneaky",
		"5.1.1":                   "550 5.1.1 mail delivery disabled",
		"421 no enhanced":         "421 4.0.0 no enhanced",
		"  user moved\r\nBcc: x ": "550 5.0.0 user moved  Bcc: x",
		"9.9.9 not a code":        "550 5.0.0 9.9.9 not a code",
	}
	for in, want := range cases {
		if got := ErrorStatus(in).Error(); got != want {
			t.Errorf("ErrorStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAgents(t *testing.T) {
	req := &deliver.Request{QueueID: "Q1", Content: testmsg.Simple, Nexthop: "4.7.1 held",
		Recipients: []deliver.Recipient{{Addr: "a@x"}, {Addr: "b@x"}}}
	res := (&Agent{}).Deliver(context.Background(), req)
	if len(res) != 2 || res[1].Status.Error() != "250 2.0.0 discarded" {
		t.Errorf("discard = %v", res)
	}
	res = (&ErrorAgent{}).Deliver(context.Background(), req)
	if len(res) != 2 || !res[0].Status.Temporary() || res[1].Status.Error() != "451 4.7.1 held" {
		t.Errorf("error = %v", res)
	}
}

// TestAgentsRefuseOptions: discard and error take no option; a route
// that sets one was meant for another transport, so the mail waits.
func TestAgentsRefuseOptions(t *testing.T) {
	req := &deliver.Request{QueueID: "Q1", Content: testmsg.Simple, Options: map[string]string{"mailbox": "/m/"},
		Recipients: []deliver.Recipient{{Addr: "a@x"}}}
	for _, a := range []deliver.Agent{&Agent{}, &ErrorAgent{}} {
		if st := a.Deliver(context.Background(), req)[0].Status; st.Error() != "451 4.3.5 Error: server configuration error, try again later" {
			t.Errorf("%T: %v", a, st)
		}
	}
}
