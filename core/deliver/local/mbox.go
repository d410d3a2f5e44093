package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/moonpost/moonpost/core/deliver/internal/mailcopy"
)

// errLockTimeout says the mailbox stayed locked longer than we wait.
var errLockTimeout = errors.New("mailbox lock timeout")

// mboxLocking says how long appenders wait for each other.
type mboxLocking struct {
	Wait  time.Duration // give up (deferring the mail) after this long
	Stale time.Duration // a dot-lock older than this is removed
}

// appendMbox appends msg to the mbox file at path under a dot-lock
// (path.lock, for mail readers that only know those) and flock. The
// message gets a "From sender date" line, ">From " quoting and a blank
// line after it. After a failed write the file is truncated back to its
// old size so no half message is left for readers to choke on.
func appendMbox(ctx context.Context, path, sender string, msg io.Reader, lk mboxLocking) (err error) {
	ctx, cancel := context.WithTimeout(ctx, lk.Wait)
	defer cancel()
	unlock, err := dotlock(ctx, path+".lock", lk.Stale)
	if err != nil {
		return err
	}
	defer unlock()
	// O_NOFOLLOW: a symlink planted in a mail spool must not redirect
	// the write.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := flock(ctx, f); err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	if err = writeMboxMessage(f, sender, msg); err != nil {
		if terr := f.Truncate(st.Size()); terr != nil {
			err = fmt.Errorf("%w (and truncating back failed: %v)", err, terr)
		}
		f.Sync()
	}
	return err
}

// writeMboxMessage writes one mbox entry and fsyncs it.
func writeMboxMessage(f *os.File, sender string, msg io.Reader) error {
	bw := bufio.NewWriter(f)
	fmt.Fprintf(bw, "From %s %s\n", fromLineSender(sender), time.Now().Format(time.ANSIC))
	if _, err := mailcopy.Copy(bw, msg, mailcopy.Options{LF: true, QuoteFrom: true, EnsureNL: true}); err != nil {
		return err
	}
	bw.WriteString("\n")
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

// fromLineSender keeps the From_ line to one token, as mbox readers
// split it on white space.
func fromLineSender(s string) string {
	if s == "" {
		return "MAILER-DAEMON"
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}

// dotlock creates lockPath exclusively, waiting while another process
// holds it. A lock older than stale is taken to be left by a crashed
// writer and removed.
func dotlock(ctx context.Context, lockPath string, stale time.Duration) (func(), error) {
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		f, err := os.OpenFile(lockPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return func() { os.Remove(lockPath) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if fi, err := os.Stat(lockPath); err == nil && time.Since(fi.ModTime()) > stale {
			os.Remove(lockPath)
			continue
		}
		if err := wait(ctx, delay); err != nil {
			return nil, err
		}
	}
}

// flock takes an exclusive flock on f, polling so ctx bounds the wait.
func flock(ctx context.Context, f *os.File) error {
	for delay := time.Millisecond; ; delay = min(delay*2, 100*time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil // released when f is closed
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return err
		}
		if err := wait(ctx, delay); err != nil {
			return err
		}
	}
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errLockTimeout
		}
		return ctx.Err()
	}
}
