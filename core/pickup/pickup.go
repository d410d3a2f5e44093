package pickup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/queue"
)

// Service is the pickup daemon.
type Service struct {
	Store        *queue.Store
	Cleanup      *cleanup.Cleanup
	ScanInterval time.Duration // fallback scan; default 60s
	MaxSize      int64         // largest maildrop file accepted (content)
	MaxRcpts     int           // most recipients per file; default 1000
	// Flow, when set, paces pickup to deliveries (Postfix's
	// in_flow_delay); its Wait pauses before each submission.
	Flow interface{ Wait(context.Context) bool }
	Log  *slog.Logger
}

// Run picks up mail until ctx ends: everything present at start, then
// whatever fsnotify reports, with a periodic scan in case an event was
// missed (or fsnotify is unavailable).
func (s *Service) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err == nil {
		defer w.Close()
		if err := w.Add(filepath.Join(s.Store.Root(), string(queue.Maildrop))); err != nil {
			s.log().Warn("pickup: cannot watch maildrop, scanning only", "err", err)
		}
	} else {
		s.log().Warn("pickup: no fsnotify, scanning only", "err", err)
		w = &fsnotify.Watcher{}
	}
	tick := time.NewTicker(s.interval())
	defer tick.Stop()
	s.Scan(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if ok && ev.Has(fsnotify.Create|fsnotify.Rename) && queue.Valid(filepath.Base(ev.Name)) {
				s.Pick(ctx, queue.ID(filepath.Base(ev.Name)))
			}
		case <-tick.C:
			s.Scan(ctx)
		}
	}
}

// Scan picks up every committed maildrop file. Entries that are not
// (a symlink, a directory, a FIFO planted by a local user, a name that
// is not a queue ID) are never opened: the daemon's store moves them to
// corrupt/ or logs them once as it lists (queue.Store.SweepStrays).
func (s *Service) Scan(ctx context.Context) {
	ents, err := s.Store.List(queue.Maildrop)
	if err != nil {
		s.log().Error("pickup: cannot list maildrop", "err", err)
		return
	}
	for _, e := range ents {
		if ctx.Err() != nil {
			return
		}
		s.Pick(ctx, e.ID)
	}
}

// Pick moves one maildrop file through cleanup. Any failure that is the
// file's fault quarantines it; a temporary failure leaves it for the next
// scan.
func (s *Service) Pick(ctx context.Context, id queue.ID) {
	m, err := s.Store.Read(queue.Maildrop, id)
	if errors.Is(err, queue.ErrNotFound) {
		return // picked up already
	}
	if err != nil {
		s.quarantine(id, err)
		return
	}
	defer m.Close()
	if err := s.validate(m); err != nil {
		s.quarantine(id, err)
		return
	}
	uid, err := m.Owner()
	if err != nil {
		s.log().Warn("pickup: cannot tell the file's owner; retried", "maildrop_id", id, "err", err)
		return
	}
	env := s.envelope(m, uid)
	if s.Flow != nil {
		s.Flow.Wait(ctx)
	}
	newID, err := s.Cleanup.SubmitWith(ctx, env, m.Open(), cleanup.Options{Extract: m.ExtractRcpts})
	if st := dsn.FromError(err); st != nil {
		s.reject(m, st)
		return
	}
	s.log().Info(fmt.Sprintf("%s: uid=%d user=%s from=<%s> (maildrop %s)", newID, uid, env.Client.AuthUser, m.Sender, id),
		"queue_id", newID, "maildrop_id", id)
	if err := s.Store.Remove(queue.Maildrop, id); err != nil {
		s.log().Error("pickup: cannot remove maildrop file", "maildrop_id", id, "err", err)
	}
}

// reject handles a message cleanup refused. A temporary failure is
// retried at the next scan; a permanent one cannot be returned to anyone
// interactively, so the file is kept in corrupt/ for the postmaster.
func (s *Service) reject(m *queue.Message, st *dsn.Status) {
	if st.Temporary() {
		s.log().Warn("pickup: deferred", "maildrop_id", m.ID, "status", st.Error())
		return
	}
	s.quarantine(m.ID, fmt.Errorf("refused by cleanup: %s", st.Error()))
}

// envelope is what cleanup gets from a maildrop file written by the
// user uid. Any local user can write such a file, so nothing in it that
// says who sent it is believed: the client is always the local host,
// proto LOCAL, and auth_user is the name of the file's owner (LocalClient),
// whatever the file claims. Only what sendmail lets every user choose is
// kept (sender, recipients, DSN options, full name); the arrival time and
// recipient states are cleanup's.
func (s *Service) envelope(m *queue.Message, uid uint32) *queue.Envelope {
	env := &queue.Envelope{
		Sender: m.Sender, Client: LocalClient(uid), FullName: m.FullName,
		EnvID: m.EnvID, Ret: m.Ret, BodyType: m.BodyType, SMTPUTF8: m.SMTPUTF8,
	}
	for _, r := range m.Recipients {
		env.Recipients = append(env.Recipients, queue.Recipient{Addr: r.Addr, ORcpt: r.ORcpt, Notify: r.Notify, State: queue.Pending})
	}
	return env
}

func (s *Service) quarantine(id queue.ID, why error) {
	s.Store.Quarantine(queue.Maildrop, id, fmt.Errorf("maildrop file rejected: %w", why))
}

func (s *Service) interval() time.Duration {
	if s.ScanInterval > 0 {
		return s.ScanInterval
	}
	return time.Minute
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// validate applies the limits a maildrop file must meet.
func (s *Service) validate(m *queue.Message) error {
	if s.MaxSize > 0 && m.Size() > s.MaxSize {
		return fmt.Errorf("content of %d bytes exceeds %d", m.Size(), s.MaxSize)
	}
	max := s.MaxRcpts
	if max <= 0 {
		max = 1000
	}
	if len(m.Recipients) > max {
		return fmt.Errorf("%d recipients exceed %d", len(m.Recipients), max)
	}
	if err := checkAddr(m.Sender, true); err != nil {
		return fmt.Errorf("sender: %w", err)
	}
	for _, r := range m.Recipients {
		if err := checkAddr(r.Addr, false); err != nil {
			return fmt.Errorf("recipient: %w", err)
		}
	}
	return nil
}

// checkAddr refuses what no envelope address may hold.
func checkAddr(a string, emptyOK bool) error {
	switch {
	case a == "" && !emptyOK:
		return errors.New("empty address")
	case len(a) > 512:
		return errors.New("address too long")
	case strings.ContainsAny(a, "\x00\r\n<>"):
		return fmt.Errorf("bad character in %q", a)
	}
	return nil
}
