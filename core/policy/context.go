package policy

import (
	"bufio"
	"context"
	"io"
	"sync"

	"github.com/emersion/go-message/textproto"
)

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

type headerKey struct{}

// HeaderFunc returns a message's header. It may read the queue file, so
// it is called only by a policy that asks for the header, and it
// remembers its answer.
type HeaderFunc func() (*textproto.Header, error)

// WithHeader attaches the header of the message being routed to ctx: the
// queue manager's resolve workers attach the queue file's, `moonpost
// route` the header cleanup left. Router's interface has no header
// argument because most decisions never look at it.
func WithHeader(ctx context.Context, h HeaderFunc) context.Context {
	return context.WithValue(ctx, headerKey{}, h)
}

// HeaderOf returns the header attached by WithHeader, or nil.
func HeaderOf(ctx context.Context) HeaderFunc {
	h, _ := ctx.Value(headerKey{}).(HeaderFunc)
	return h
}

// ReadHeaderOnce is a HeaderFunc that parses the header at the start of
// what open returns, once, on the first call.
func ReadHeaderOnce(open func() io.Reader) HeaderFunc {
	var once sync.Once
	var h textproto.Header
	var err error
	return func() (*textproto.Header, error) {
		once.Do(func() { h, err = textproto.ReadHeader(bufio.NewReader(open())) })
		if err != nil {
			return nil, err
		}
		return &h, nil
	}
}
