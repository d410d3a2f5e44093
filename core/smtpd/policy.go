package smtpd

import (
	"context"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
)

// AllowAll is the default policy.SMTP: it accepts at every stage. Relay
// control is not policy and is enforced by the server regardless.
type AllowAll struct{}

var _ policy.SMTP = AllowAll{}

func (AllowAll) Connect(context.Context, *policy.Session) (*dsn.Status, error) { return nil, nil }

func (AllowAll) Helo(context.Context, *policy.Session, string) (*dsn.Status, error) {
	return nil, nil
}

func (AllowAll) Mail(context.Context, *policy.Session, string) (*dsn.Status, error) {
	return nil, nil
}

func (AllowAll) Rcpt(context.Context, *policy.Session, string) (*dsn.Status, error) {
	return nil, nil
}

func (AllowAll) Data(context.Context, *policy.Session, *textproto.Header, *policy.AuthResults) (*dsn.Status, error) {
	return nil, nil
}
