package smtpd

import (
	"context"
	"errors"

	"github.com/emersion/go-sasl"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
)

// AuthMechanisms offers PLAIN and LOGIN only on a submission listener,
// only under TLS, and only when an Authenticator is configured.
func (s *session) AuthMechanisms() []string {
	if !s.authAllowed() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *session) authAllowed() bool {
	return s.l.Submission && s.isTLS() && s.c.cfg.Auth != nil
}

// Auth starts a SASL exchange. go-smtp already refuses AUTH without TLS
// and after a successful AUTH; the rest is checked here.
func (s *session) Auth(mech string) (sasl.Server, error) {
	switch {
	case !s.l.Submission || s.c.cfg.Auth == nil:
		return nil, dsn.AuthDisabled.SMTPError()
	case !s.isTLS():
		return nil, dsn.AuthNeedsTLS.SMTPError()
	case s.greetingDone() != nil:
		return nil, s.greetingDone().SMTPError()
	case s.mailSeen:
		return nil, dsn.BadSequence.WithText("Error: MAIL transaction in progress").SMTPError()
	}
	if st := s.srv.authRefusal(s.c); st != nil { // anvil.go
		return nil, st.SMTPError()
	}
	s.c.counts.auth.Add(1)
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return s.authFailed(mech, user, errors.New("authorization identity differs"))
			}
			return s.authenticate(mech, user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: func(user, pass string) error { return s.authenticate(mech, user, pass) }}, nil
	}
	return nil, dsn.New(504, "5.5.4", "Unsupported authentication mechanism").SMTPError()
}

// authenticate asks the Authenticator. Its error is an internal fault:
// 454 4.7.0, try again later, never a silent pass.
func (s *session) authenticate(mech, user, pass string) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.c.cfg.PolicyTimeout)
	defer cancel()
	ctx = policy.WithSession(ctx, s.policySession())
	ok, err := s.c.cfg.Auth.Authenticate(ctx, user, pass)
	if err != nil {
		s.srv.log.Error("warning: "+s.c.client()+": SASL "+mech+" authentication error", "err", err)
		return dsn.AuthTemp.SMTPError()
	}
	if !ok {
		return s.authFailed(mech, user, nil)
	}
	s.authUser = user
	s.srv.log.Info(s.c.client()+": SASL "+mech+" authentication succeeded", "sasl_username", sanitize(user))
	return nil
}

// authFailed answers a failed attempt, after a pause; the attempt that
// reaches AuthFailureLimit ends the session (errlimit.go).
func (s *session) authFailed(mech, user string, why error) error {
	s.srv.noteAuthFailure(s.c) // anvil.go
	s.srv.countReject("AUTH", dsn.AuthFailed)
	s.srv.log.Warn("warning: "+s.c.client()+": SASL "+mech+" authentication failed", "sasl_username", sanitize(user), "why", why)
	if s.c.authFailure() {
		s.srv.countReject("SESSION", tooManyErrors)
		s.srv.log.Info("too many AUTH failures from "+s.c.client(), "listener", s.l.Name)
		s.c.hangUp()
		return tooManyErrors.SMTPError()
	}
	return dsn.AuthFailed.SMTPError()
}

// loginServer is the server side of the obsolete but widely used LOGIN
// mechanism (draft-murchison-sasl-login), which go-sasl only has as a
// client: "Username:" and "Password:" challenges, one answer each. An
// initial response, if any, is the user name.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int // 0: want user name, 1: want password, 2: done
}

func (l *loginServer) Next(resp []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		if resp == nil {
			return []byte("Username:"), false, nil
		}
		l.user, l.step = string(resp), 1
		return []byte("Password:"), false, nil
	case 1:
		l.step = 2
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, true, errors.New("sasl LOGIN: unexpected response")
}
