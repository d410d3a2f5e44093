package dns

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
)

func TestStatusMapping(t *testing.T) {
	cases := []struct {
		err  error
		want *dsn.Status
		temp bool
	}{
		{&LookupError{Kind: NotFound}, dsn.NoSuchDomain, false},
		{&LookupError{Kind: NullMX}, dsn.NullMX, false},
		{&LookupError{Kind: Temporary}, dsn.DNSTemp, true},
		{&LookupError{Kind: Kind(99)}, dsn.DNSTemp, true}, // unknown kinds defer
		{fmt.Errorf("wrapped: %w", &LookupError{Kind: NotFound}), dsn.NoSuchDomain, false},
		{context.DeadlineExceeded, dsn.DNSTemp, true},
	}
	for i, c := range cases {
		got := StatusOf(c.err)
		if got != c.want {
			t.Errorf("%d: StatusOf(%v) = %v, want %v", i, c.err, got, c.want)
		}
		if got.Temporary() != c.temp {
			t.Errorf("%d: temporary = %v", i, got.Temporary())
		}
	}
	if StatusOf(nil) != nil {
		t.Error("nil error must map to nil")
	}
	// The codes the product promises, spelled out.
	for st, want := range map[*dsn.Status]string{
		dsn.NoSuchDomain: "550 5.1.2", dsn.NullMX: "556 5.1.10", dsn.DNSTemp: "451 4.4.3",
	} {
		if got := fmt.Sprintf("%d %s", st.Code, st.Enhanced); got != want {
			t.Errorf("%s, want %s", got, want)
		}
	}
}

func TestLookupErrorUnwrapsCause(t *testing.T) {
	err := tempErr("x.test", "MX", context.Canceled)
	if !errors.Is(err, context.Canceled) {
		t.Error("cause lost")
	}
	if err.Error() != "dns: MX x.test: temporary failure: context canceled" {
		t.Errorf("Error() = %q", err.Error())
	}
}
