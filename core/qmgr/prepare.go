package qmgr

import (
	"errors"
	"strings"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Resolution, Postfix's trivial-rewrite beside its qmgr: a message taken
// into the active set is moved into active/, read, and its recipients
// resolved (the transport hooks, then resolve's checks) by a bounded pool
// of workers. The manager's goroutine only holds the message's place and,
// when the answer comes back on a channel, queues the jobs: it never runs
// Lua, DNS or queue-file I/O for a message, so a slow transport hook for
// one domain delays only the messages waiting on it.

// defaultResolvers bounds the messages being resolved at once when
// Config.Resolvers is 0.
const defaultResolvers = 16

// prepareTask is one message for a resolve worker: from names the queue
// to move it out of, unless msg is already open in active/ (a hand-off).
type prepareTask struct {
	am   *activeMsg
	from queue.State
	msg  *queue.Message
}

// preparedMsg is a worker's answer.
type preparedMsg struct {
	am  *activeMsg
	msg *queue.Message // nil: the message did not become active
	// retry: the file could not be read and was put back; list again.
	retry bool
	jobs  []*job // deliveries, grouped by destination
}

func (m *Manager) resolvers() int {
	if m.Config.Resolvers > 0 {
		return m.Config.Resolvers
	}
	return defaultResolvers
}

// pumpPrepare starts workers for queued messages while there is room.
func (m *Manager) pumpPrepare() {
	for m.preparing < m.resolvers() && len(m.toPrepare) > 0 {
		t := m.toPrepare[0]
		m.toPrepare[0] = prepareTask{}
		m.toPrepare = m.toPrepare[1:]
		m.preparing++
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.prepared <- m.prepare(t)
		}()
	}
}

// prepare runs in a worker: it activates and reads the message unless it
// came open, records the outcomes decided here (duplicates, recipients
// that cannot be resolved), and groups the rest into jobs.
func (m *Manager) prepare(t prepareTask) *preparedMsg {
	p := &preparedMsg{am: t.am, msg: t.msg}
	if p.msg == nil {
		p.msg, p.retry = m.load(t.am.id, t.from)
		if p.msg == nil {
			return p
		}
	}
	p.jobs = m.shape(p.msg, m.plan(t.am, p.msg))
	return p
}

// load moves a message into active/ and reads it. A corrupt file goes to
// corrupt/; one that cannot be read for another reason goes back where it
// came from, and retry asks for a listing.
func (m *Manager) load(id queue.ID, from queue.State) (msg *queue.Message, retry bool) {
	// No directory fsync: after a crash active/ returns to incoming/, so
	// losing this rename changes nothing.
	if err := m.Store.Rename(id, from, queue.Active); err != nil {
		if !errors.Is(err, queue.ErrNotFound) {
			m.Log.Error("qmgr: cannot activate", "queue_id", id, "err", err)
		}
		return nil, false
	}
	msg, err := m.Store.Read(queue.Active, id)
	if err == nil {
		return msg, false
	}
	if errors.Is(err, queue.ErrCorrupt) {
		m.Store.Quarantine(queue.Active, id, err)
		return nil, false
	}
	// Not the file's fault (out of descriptors, say): put it back where
	// it came from, to be tried again by a later listing.
	m.Log.Error("qmgr: cannot read, will retry", "queue_id", id, "err", err)
	if err := m.Store.Rename(id, queue.Active, from); err != nil {
		m.Log.Error("qmgr: cannot put back", "queue_id", id, "err", err)
	}
	return nil, true
}

// plan resolves the pending recipients of msg and groups them into jobs.
// The outcomes it decides itself are recorded here, in the worker.
func (m *Manager) plan(am *activeMsg, msg *queue.Message) []*job {
	groups := map[string]*job{}
	var order []*job
	seen := map[string]int{}
	// The header, for a transport hook that asks (m:header()), is read
	// from the file here, in the worker, at most once per message.
	ctx := policy.WithHeader(m.ctx, policy.ReadHeaderOnce(msg.Open))
	for _, i := range msg.Pending() {
		r := msg.Recipients[i]
		key := strings.ToLower(r.Addr)
		if first, dup := seen[key]; dup {
			// Postfix delivers a recipient once per message.
			m.record(msg, i, resultFor(dsn.Sent.WithText("duplicate of recipient "+itoa(first)), "none"), nil)
			continue
		}
		seen[key] = i
		dest, err := m.Resolver.Resolve(ctx, r.Addr, &msg.Envelope)
		if err != nil {
			m.Log.Error("qmgr: cannot resolve recipient", "queue_id", msg.ID, "to", r.Addr, "err", err)
			m.record(msg, i, resultFor(dsn.TempPolicy.WithText("mail transport unavailable"), "none"), nil)
			continue
		}
		order = m.addToGroup(groups, order, am, dest, i)
	}
	// A message delivered in one job needs no durable per-recipient
	// record when that job succeeds for everyone: the file goes next.
	if len(order) == 1 && len(msg.Pending()) == len(order[0].rcpts) {
		order[0].whole = true
	}
	return order
}

// resolved runs in the manager's goroutine with a worker's answer: the
// jobs are queued, unless an operator acted on the message meanwhile
// (hold, delete, bounce), in which case they are dropped and the mark
// settles the message as for deliveries not yet started.
func (m *Manager) resolved(p *preparedMsg) {
	m.preparing--
	defer m.pumpPrepare()
	am := p.am
	if p.msg == nil {
		delete(m.active, am.id)
		if p.retry {
			m.relist = true
		}
		return
	}
	am.msg = p.msg
	// Beyond a budget, waiting messages hold no descriptor (deliveries
	// reopen the file): a backlog of thousands must not exhaust them,
	// while the common case keeps the file open from read to delivery.
	// Mail that waits on stalled lanes only (a tarpit, a paced site)
	// holds none either: it would take the budget from mail that is
	// delivered at once, and make every one of those reopen its file.
	if m.heldCount >= heldFiles || m.waitsOnStalled(p.jobs) {
		am.msg.Release()
	} else {
		am.held = true
		m.heldCount++
	}
	am.jobsLeft-- // the resolution
	if am.op == 0 || am.op == OpRequeue {
		for _, j := range p.jobs {
			am.jobsLeft++
			m.enqueue(j)
		}
	}
	if am.jobsLeft == 0 {
		m.startFinish(am) // nothing to deliver: only notices or removal left
	}
}

// dropPrepared waits out the workers at shutdown. Messages they read
// stay in active/ and return to incoming/ at the next start; those not
// started yet were never moved.
func (m *Manager) dropPrepared(p *preparedMsg) {
	m.preparing--
	if p.msg != nil {
		p.msg.Close()
	}
	delete(m.active, p.am.id)
}

// waitsOnStalled reports whether every one of jobs goes to a destination
// whose lane is stalled (flow.go): none of them is about to start.
func (m *Manager) waitsOnStalled(jobs []*job) bool {
	if len(jobs) == 0 {
		return false
	}
	now := m.Clock.Now()
	for _, j := range jobs {
		d := m.dests[j.key()]
		if d == nil || d.lane == nil || !d.lane.stalled(now) {
			return false
		}
	}
	return true
}
