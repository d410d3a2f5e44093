package hooks

import (
	"context"
	"sync"
	"time"
)

// callCtx is the context the calls of one pooled state run under. It is
// made once and used call after call, so that a call needs no new
// context and no new timer: begin arms the state's timer for the call's
// deadline and ties the context to the caller's, end disarms both.
//
// It behaves as the context.WithTimeout(context.WithCancelCause(parent))
// that a call used to make for itself:
//   - past Config.CallTimeout it is done with DeadlineExceeded (gopher-lua
//     raises Err().Error(), so the Lua error text is unchanged);
//   - when the caller's context is done, it is done with that context's
//     error and cause;
//   - cancel (the memory watch) makes it done with Canceled and a cause;
//   - Deadline is the earlier of the call's and the caller's, and Value
//     asks the caller's context.
//
// Once done it stays done: end reports it spent and the state takes a
// new one for its next call (a state whose call failed is closed
// anyway). It is spent too when contexts derived from it are still
// registered at the end of a call (a coroutine left suspended): end
// cancels them, as the end of a per-call context did.
type callCtx struct {
	done     chan struct{} // closed when the context is done; never replaced
	timer    *time.Timer   // runs expire; armed by begin, stopped by end
	onParent func()        // parentDone, bound once for context.AfterFunc
	// stopParent undoes the AfterFunc on the caller's context; nil when
	// that context cannot be done. Only the calling goroutine uses it.
	stopParent func() bool

	mu       sync.Mutex
	active   bool            // between begin and end
	parent   context.Context // the caller's context; kept once spent
	expires  time.Time       // the call's own deadline, start + CallTimeout
	deadline time.Time       // the earlier of expires and the caller's deadline
	err      error           // set when done is closed
	cause    error
	afters   map[*afterFunc]struct{} // registered by contexts derived from this one
}

// afterFunc is one registration of AfterFunc.
type afterFunc struct{ f func() }

func newCallCtx() *callCtx {
	c := &callCtx{done: make(chan struct{})}
	c.onParent = c.parentDone
	return c
}

// begin starts a call made under parent at start.
func (c *callCtx) begin(parent context.Context, start time.Time, timeout time.Duration) {
	c.mu.Lock()
	c.active = true
	c.parent = parent
	c.expires = start.Add(timeout)
	c.deadline = c.expires
	if d, ok := parent.Deadline(); ok && d.Before(c.deadline) {
		c.deadline = d
	}
	c.mu.Unlock()
	if c.timer == nil {
		c.timer = time.AfterFunc(timeout, c.expire)
	} else {
		c.timer.Reset(timeout)
	}
	if parent.Done() != nil {
		c.stopParent = context.AfterFunc(parent, c.onParent)
		if parent.Err() != nil {
			// Done already: stop the call now rather than when the
			// AfterFunc goroutine gets to it, as WithCancel would.
			c.parentDone()
		}
	}
}

// end finishes the call begin started. spent says the context is done
// (or had to be cancelled now) and must not be used for another call.
func (c *callCtx) end() (spent bool) {
	c.timer.Stop()
	if c.stopParent != nil {
		c.stopParent()
		c.stopParent = nil
	}
	var fs []func()
	c.mu.Lock()
	c.active = false
	switch {
	case c.err != nil:
		spent = true
	case len(c.afters) > 0:
		spent = true
		fs = c.cancelLocked(context.Canceled, context.Canceled)
	default:
		c.parent = nil
	}
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
	return spent
}

// expire is the timer's function. A timer that fired for an earlier
// call of the state while that call was ending finds the context idle or
// its deadline still ahead, and does nothing.
func (c *callCtx) expire() {
	c.mu.Lock()
	if !c.active || c.err != nil || time.Now().Before(c.expires) {
		c.mu.Unlock()
		return
	}
	fs := c.cancelLocked(context.DeadlineExceeded, context.DeadlineExceeded)
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// parentDone runs when the caller's context is done. One left over from
// an earlier call finds the current caller's context not done.
func (c *callCtx) parentDone() {
	c.mu.Lock()
	if !c.active || c.err != nil || c.parent.Err() == nil {
		c.mu.Unlock()
		return
	}
	fs := c.cancelLocked(c.parent.Err(), context.Cause(c.parent))
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// cancel stops the call in flight with Canceled and cause.
func (c *callCtx) cancel(cause error) {
	c.mu.Lock()
	if !c.active || c.err != nil {
		c.mu.Unlock()
		return
	}
	fs := c.cancelLocked(context.Canceled, cause)
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// cancelLocked makes the context done and returns the functions
// registered with AfterFunc, for the caller to run once it has let go
// of c.mu (they read Err).
func (c *callCtx) cancelLocked(err, cause error) []func() {
	c.err, c.cause = err, cause
	close(c.done)
	var fs []func()
	for a := range c.afters {
		fs = append(fs, a.f)
	}
	c.afters = nil
	return fs
}

// Cause is why the context is done, as context.Cause would say of the
// context a call used to make; nil while it is not.
func (c *callCtx) Cause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// Done is read before every Lua instruction; it takes no lock.
func (c *callCtx) Done() <-chan struct{} { return c.done }

func (c *callCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *callCtx) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline, true
}

func (c *callCtx) Value(key any) any {
	c.mu.Lock()
	p := c.parent
	c.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.Value(key)
}

// AfterFunc lets contexts derived from this one (a coroutine's, a DNS
// look-up's) be cancelled with it without a goroutine each: the context
// package uses it when a parent has it. f runs when the context is done,
// in its own goroutine if it already is.
func (c *callCtx) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	if c.afters == nil {
		c.afters = map[*afterFunc]struct{}{}
	}
	c.afters[a] = struct{}{}
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.afters[a]; !ok {
			return false
		}
		delete(c.afters, a)
		return true
	}
}

func (c *callCtx) String() string { return "hooks.callCtx" }
