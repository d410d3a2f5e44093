package policy

import "context"

type sessionKey struct{}

// WithSession attaches the SMTP session to ctx. The SMTP server does it
// before calling an Authenticator, whose interface has no session
// argument, so a policy that wants to know the client (a scripted "auth"
// handler) can still see it.
func WithSession(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// SessionFrom returns the session attached by WithSession, or nil.
func SessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}
