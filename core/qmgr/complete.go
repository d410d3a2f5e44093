package qmgr

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/classify"
	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/resolve"
)

func resultFor(st *dsn.Status, relay string) deliver.Result {
	return deliver.Result{Status: st, Relay: relay}
}

// record makes one recipient's outcome durable, logs it Postfix style and
// raises the event. A 2xx marks it delivered, a 5xx failed (to bounce),
// a 4xx keeps it pending with the reason.
func (m *Manager) record(msg *queue.Message, i int, res deliver.Result, dest *resolve.Destination) {
	transport := "none"
	if dest != nil {
		transport, res.Generation = dest.Transport, dest.Generation
	}
	m.recordAs(msg, i, res, transport, true)
}

// recordAs is record with a choice: durable appends and fsyncs the
// outcome; otherwise it is only noted in memory (see job.whole).
func (m *Manager) recordAs(msg *queue.Message, i int, res deliver.Result, transport string, durable bool) {
	m.recordAll(msg, []int{i}, []deliver.Result{res}, transport, durable)
}

// recordAll records the outcomes of recipients rcpts (results[k] is
// rcpts[k]'s) with one write, so a delivery to many recipients costs one
// sync, not one each; then logs and raises each outcome's event.
func (m *Manager) recordAll(msg *queue.Message, rcpts []int, results []deliver.Result, transport string, durable bool) {
	recs := make([]queue.Record, len(rcpts))
	statuses := make([]string, len(rcpts))
	for k, i := range rcpts {
		recs[k], statuses[k] = outcomeRecord(i, &results[k], m.Classes)
	}
	write := msg.Append
	if !durable {
		write = msg.Note
	}
	if err := write(recs...); err != nil {
		// The outcomes are not durable: at worst the recipients are
		// tried again later, which is the safe direction.
		m.Log.Error("qmgr: cannot record outcome", "queue_id", msg.ID, "err", err)
	}
	for k, i := range rcpts {
		m.countOutcome(transport, statuses[k])
		m.logOutcome(msg, i, results[k], statuses[k])
		m.event(msg, i, results[k], statuses[k])
	}
}

// outcomeRecord is the queue record of recipient i's result, and its
// status word for the log; it sets the result's bounce class (failures
// only).
func outcomeRecord(i int, res *deliver.Result, classes *classify.Classifier) (queue.Record, string) {
	st := res.Status
	switch {
	case st.OK():
		res.Class = "" // only failures have a class
	case res.Class == "":
		res.Class = string(classes.Classify(st))
	}
	var rec queue.Record
	status := "deferred"
	switch {
	case st.OK():
		rec, status = queue.RcptDelivered(i, st.Error()), "sent"
	case st.Permanent():
		rec, status = queue.RcptFailed(i, st.Error()), "bounced"
	default:
		rec = queue.RcptDeferred(i, st.Error())
	}
	return rec.Via(res.Relay).Classed(res.Class), status
}

func (m *Manager) logOutcome(msg *queue.Message, i int, res deliver.Result, status string) {
	if !m.Log.Enabled(context.Background(), slog.LevelInfo) {
		return // the line costs more to format than the rest of the outcome
	}
	msg.Lock()
	to := msg.Recipients[i].Addr
	orcpt := msg.Recipients[i].ORcpt
	msg.Unlock()
	delay := formatDelay(m.Clock.Now().Sub(msg.Arrival))
	line := fmt.Sprintf("%s: to=<%s>, relay=%s, delay=%s, dsn=%s, status=%s (%s)",
		msg.ID, to, res.Relay, delay, res.Status.Enhanced, status, res.Status.Text)
	if orcpt != "" {
		line = fmt.Sprintf("%s: to=<%s>, orig_to=<%s>, relay=%s, delay=%s, dsn=%s, status=%s (%s)",
			msg.ID, to, strings.TrimPrefix(orcpt, "rfc822;"), res.Relay, delay, res.Status.Enhanced, status, res.Status.Text)
	}
	line = withTenant(line, ", status="+status+" ("+res.Status.Text+")", msg.Tenant)
	attrs := []any{"queue_id", msg.ID, "to", to, "relay", res.Relay, "dsn", res.Status.Enhanced.String(), "status", status}
	if res.TLS != "" {
		// The TLS outcome goes after the status, where Postfix log
		// readers (pflogsumm) take the rest of the line as its text.
		line += ", tls=" + res.TLS
		attrs = append(attrs, "tls", res.TLS)
	}
	if res.Class != "" {
		// After the status, like every field Postfix does not write:
		// log summarisers read the fields before it in Postfix's order.
		line += ", class=" + res.Class
		attrs = append(attrs, "class", res.Class)
	}
	if res.Generation > 0 {
		line += ", generation=" + strconv.Itoa(res.Generation)
		attrs = append(attrs, "generation", res.Generation)
	}
	m.Log.Info(line, attrs...)
}

// formatDelay writes a delay in seconds with two fixed decimals, as log
// summarisers such as pflogsumm expect ("delay=102.37", never "1e+02").
func formatDelay(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64)
}

// countOutcome adds one recipient's outcome to the statistics.
func (m *Manager) countOutcome(transport, status string) {
	m.count(func(s *Stats) {
		if s.ByTransport == nil {
			s.ByTransport = map[string]Outcomes{}
		}
		t := s.ByTransport[transport]
		switch status {
		case "sent":
			s.Delivered++
			t.Delivered++
		case "bounced":
			s.Bounced++
			t.Bounced++
		default:
			s.Deferred++
			t.Deferred++
		}
		s.ByTransport[transport] = t
	})
}

func (m *Manager) event(msg *queue.Message, i int, res deliver.Result, status string) {
	if m.Events == nil {
		return
	}
	msg.Lock()
	ev := policy.Event{QueueID: string(msg.ID), Sender: msg.Sender, Recipient: msg.Recipients[i].Addr,
		Status: res.Status, Relay: res.Relay, Class: res.Class, Attempts: msg.Attempts + 1, Meta: msg.Meta}
	ev.Tenant = msg.Tenant
	msg.Unlock()
	switch status {
	case "sent":
		m.Events.Delivered(m.ctx, ev)
	case "bounced":
		m.Events.Bounced(m.ctx, ev)
	default:
		m.Events.Deferred(m.ctx, ev)
	}
}

// complete handles a finished delivery in the manager's goroutine.
func (m *Manager) complete(j *job) {
	if j.held > 0 {
		m.requeueHeld(j)
		return
	}
	if j.skipped {
		m.inFlight.Add(-1)
		m.running-- // a suspended destination's deferral: no feedback
	} else if d := m.dests[j.key()]; d != nil {
		m.feedback(d, j)
	}
	m.finishJob(j)
}

func (m *Manager) finishJob(j *job) {
	j.am.jobsLeft--
	if j.am.jobsLeft == 0 {
		m.startFinish(j.am)
	}
}

// finish ends a message's attempt: notices first, then removal or
// deferral. Every step is durable before the next, so a crash at any
// point repeats at most the last step.
// startFinish settles a message whose deliveries have all returned in a
// goroutine; the manager hears of it on finished (see settled).
func (m *Manager) startFinish(am *activeMsg) {
	am.finishing = true
	m.toSettle = append(m.toSettle, am)
	m.pumpSettle()
}

// maxSettling bounds the goroutines settling messages at once: a
// destination failing for thousands of messages must not start thousands
// of goroutines, each waiting on the disk.
const maxSettling = 32

// pumpSettle starts settling queued messages while there is room.
func (m *Manager) pumpSettle() {
	for m.settling < maxSettling && len(m.toSettle) > 0 {
		am := m.toSettle[0]
		m.toSettle[0] = nil
		m.toSettle = m.toSettle[1:]
		m.settling++
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.finish(am)
			m.finished <- am
		}()
	}
}

// settled runs in the manager goroutine once a message is settled.
func (m *Manager) settled(am *activeMsg) {
	m.settling--
	defer m.pumpSettle()
	if am.held {
		m.heldCount--
	}
	delete(m.active, am.msg.ID)
	if am.retry {
		m.relist = true
	}
	if am.again {
		m.activate(am.msg.ID, queue.Deferred)
	}
}

// finish settles a message: notices first, then removal or deferral.
// It runs outside the manager goroutine and touches only the message.
func (m *Manager) finish(am *activeMsg) {
	msg := am.msg
	// Notices read the original content: hold the file open until done.
	if err := msg.Acquire(); err != nil {
		m.Log.Error("qmgr: cannot reopen to finish, will retry", "queue_id", msg.ID, "err", err)
		if err := m.Store.Rename(msg.ID, queue.Active, queue.Incoming); err == nil {
			am.retry = true
		}
		return
	}
	defer msg.Release()
	if am.held {
		defer msg.Release() // the reference Read gave
	}
	if m.finishMarked(am) {
		return
	}
	m.expire(msg)
	if !m.sendNotices(msg) {
		if !m.parkMarked(am) {
			m.deferMessage(msg, "notice not sent")
		}
		return
	}
	if len(msg.Pending()) == 0 {
		if err := msg.Remove(); err != nil {
			m.Log.Error("qmgr: cannot remove delivered message", "queue_id", msg.ID, "err", err)
			return
		}
		if m.Log.Enabled(context.Background(), slog.LevelInfo) {
			m.Log.Info(fmt.Sprintf("%s: removed", msg.ID), "queue_id", msg.ID)
		}
		return
	}
	if m.parkMarked(am) {
		return
	}
	m.deferMessage(msg, "")
}

// expire fails the pending recipients of mail past its lifetime.
func (m *Manager) expire(msg *queue.Message) {
	cfg := m.settings()
	life := cfg.MaxLifetime
	if msg.Sender == "" {
		life = cfg.BounceLifetime
	}
	if m.Clock.Now().Sub(msg.Arrival) < life {
		return
	}
	for _, i := range msg.Pending() {
		last := msg.Recipients[i].Reason
		st := dsn.TooOld
		if prev, ok := dsn.Parse(last); ok {
			// Keep the last real reason, as Postfix does: "message was
			// too old ... (last reason)".
			st = dsn.New(554, "5.4.7", dsn.TooOld.Text+"; last error: "+prev.Text)
		}
		res := resultFor(st, "none")
		// Why it failed is why its last attempt did: keep that class
		// (the rules saw that reply's codes); none classifies the expiry.
		res.Class = msg.Recipients[i].Class
		m.record(msg, i, res, nil)
		m.count(func(s *Stats) { s.Expired++ })
	}
}

// deferMessage writes the attempt record and parks the message in
// deferred/ until its next attempt.
func (m *Manager) deferMessage(msg *queue.Message, why string) {
	attempts := msg.Attempts + 1
	next := m.Clock.Now().Add(m.backoff(attempts))
	if err := msg.Append(queue.Attempt(attempts, next)); err != nil {
		m.Log.Error("qmgr: cannot record attempt", "queue_id", msg.ID, "err", err)
	}
	// Stamped before the move, so a flush that finds the file in
	// deferred/ always finds it stamped, and its "now" is not undone.
	if err := m.Store.SetNextAttempt(queue.Active, msg.ID, next); err != nil {
		m.Log.Error("qmgr: cannot stamp next attempt", "queue_id", msg.ID, "err", err)
	}
	if err := m.Store.Move(msg.ID, queue.Active, queue.Deferred); err != nil {
		m.Log.Error("qmgr: cannot defer", "queue_id", msg.ID, "err", err)
		return
	}
	if why != "" {
		m.Log.Warn("qmgr: message deferred", "queue_id", msg.ID, "reason", why)
	}
}

// backoff doubles from MinBackoff with each attempt, capped at MaxBackoff.
func (m *Manager) backoff(attempts int) time.Duration {
	cfg := m.settings()
	d := cfg.MinBackoff
	for i := 1; i < attempts && d < cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, cfg.MaxBackoff)
}

// sendNotices sends the bounce, delay warning and success notices this
// message owes, and records each as sent. It reports false when a notice
// could not be queued (the message is then deferred, not removed, so
// the notice is not lost).
func (m *Manager) sendNotices(msg *queue.Message) bool {
	ok := m.notice(msg, NoticeFailure, msg.Unreported(), reported)
	ok = m.notice(msg, NoticeSuccess, m.successes(msg), reported) && ok
	if m.delayDue(msg) {
		ok = m.notice(msg, NoticeDelay, msg.Pending(), func([]int) []queue.Record {
			return []queue.Record{queue.DelayWarned()}
		}) && ok
	}
	return ok
}

func reported(idx []int) []queue.Record {
	recs := make([]queue.Record, len(idx))
	for k, i := range idx {
		recs[k] = queue.RcptReported(i)
	}
	return recs
}

// notice sends one kind of notice and records it with the marks.
func (m *Manager) notice(msg *queue.Message, kind NoticeKind, idx []int, marks func([]int) []queue.Record) bool {
	if len(idx) == 0 || m.Notifier == nil {
		return true
	}
	if err := m.Notifier.Notify(m.ctx, msg, kind, idx); err != nil {
		m.Log.Error("qmgr: cannot send notice", "queue_id", msg.ID, "kind", kind, "err", err)
		return false
	}
	if err := msg.Append(marks(idx)...); err != nil {
		m.Log.Error("qmgr: cannot record notice", "queue_id", msg.ID, "err", err)
	}
	return true
}

// successes lists delivered recipients that asked for NOTIFY=SUCCESS and
// were not told yet.
func (m *Manager) successes(msg *queue.Message) []int {
	var idx []int
	for i, r := range msg.Recipients {
		if r.State == queue.Delivered && !r.Reported && strings.Contains(r.Notify, "SUCCESS") &&
			!strings.Contains(r.Reason, "duplicate of recipient") {
			idx = append(idx, i)
		}
	}
	return idx
}

func (m *Manager) delayDue(msg *queue.Message) bool {
	cfg := m.settings()
	return cfg.DelayWarning > 0 && !msg.DelayWarned && len(msg.Pending()) > 0 &&
		m.Clock.Now().Sub(msg.Arrival) >= cfg.DelayWarning
}
