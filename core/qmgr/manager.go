package qmgr

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moonpost/moonpost/core/classify"
	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/egress"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/resolve"
)

// Clock is time as the manager sees it; tests inject a fake one.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// NoticeKind says which delivery status notification to send.
type NoticeKind int

const (
	NoticeFailure NoticeKind = iota // bounce: recipients failed
	NoticeDelay                     // warning: recipients still deferred
	NoticeSuccess                   // NOTIFY=SUCCESS: recipients delivered
)

// Notifier sends a DSN about recipients idx of m to its sender (or, for a
// bounce of a bounce, to the postmaster). It returns once the notice is
// queued; an error leaves the recipients unreported, to retry later.
type Notifier interface {
	Notify(ctx context.Context, m *queue.Message, kind NoticeKind, idx []int) error
}

// Resolver decides each recipient's destination.
type Resolver interface {
	Resolve(ctx context.Context, rcpt string, env *queue.Envelope) (resolve.Destination, error)
}

// Config holds the scheduling settings (see config.Queue).
type Config struct {
	MinBackoff      time.Duration
	MaxBackoff      time.Duration
	MaxLifetime     time.Duration
	BounceLifetime  time.Duration // lifetime of mail from <> (bounces)
	DelayWarning    time.Duration // 0: no delay warnings
	ScanInterval    time.Duration
	ActiveLimit     int
	Concurrency     int // per destination, maximum
	InitConcurrency int
	RcptLimit       int            // recipients per delivery
	TransportRcpts  map[string]int // per-transport override (local: 1)
	DeliveryTimeout time.Duration
	MaxDeliveries   int // deliveries in flight, all destinations
	// Resolvers bounds the messages being read and resolved at once,
	// off the manager's goroutine (0: 16).
	Resolvers int
	// Rules are the response rules ([[egress.rule]]), first match acts.
	Rules egress.Rules
}

// Manager is the queue manager. Set the fields, then call Run once.
type Manager struct {
	Store    *queue.Store
	Resolver Resolver
	Agents   map[string]deliver.Agent
	Notifier Notifier
	Events   policy.Events // may be nil
	Clock    Clock
	Config   Config
	Log      *slog.Logger
	Classes  *classify.Classifier // bounce classes of failed and deferred outcomes; nil: the shipped rules
	// Flow, when set, is told how many messages the manager holds after
	// each event, to pace arrivals (see Flow).
	Flow *Flow
	// Egress, when set, gives each destination's shaping (egress.go).
	Egress Shaper
	// Rates, when set, counts the egress rates with the other nodes
	// (sharedrate.go); nil: they are paced in this node only.
	Rates RateGate

	// arrivals carries the IDs cleanup committed to incoming/, so new mail
	// is picked up without listing the directory; rescan is signalled
	// when an ID could not be sent (channel full), and a full listing
	// then catches up.
	arrivals chan arrival
	rescan   chan struct{}
	finished chan *activeMsg // messages settled by startFinish's goroutines
	settling int             // startFinish goroutines not yet reported
	// waiting is mail ready for the active set when it has room, by
	// tenant (see admit); waitingSet keeps each ID on it once.
	waiting    fairQueue[waitingMsg]
	waitingSet map[queue.ID]bool
	// relist asks for a listing of incoming/ at the next completion,
	// after a file was put back there for a retry.
	relist bool
	// toPrepare queues messages for the resolve workers beyond
	// Config.Resolvers; preparing counts those at work, and their
	// answers come back on prepared (see prepare.go).
	toPrepare []prepareTask
	preparing int
	prepared  chan *preparedMsg
	// toSettle queues finished messages beyond maxSettling.
	toSettle []*activeMsg
	flush    chan chan int  // deliver deferred mail now; replies with a count
	admin    chan *adminReq // operator actions, see admin.go
	reconf   chan Config    // new settings from a reload, see reconfigure.go
	results  chan *job      // finished deliveries
	active   map[queue.ID]*activeMsg
	dests    map[string]*destination
	ring     []*destination // round-robin order of destinations with work
	next     int            // ring position to serve next
	running  int            // deliveries in flight
	wg       sync.WaitGroup
	ctx      context.Context // deliveries' parent; cancelled on shutdown timeout
	stats    Stats
	statsMu  sync.Mutex
	inFlight atomic.Int64           // m.running, readable off the manager's goroutine
	live     atomic.Pointer[Config] // m.Config as published for goroutines off the loop (publishConfig)
	handoff  handoff                // new mail committed straight into active/ (handoff.go)
	// Shaping (lane.go, suspend.go): the limit sets by name, the
	// suspensions in force, operator requests run on the loop, and the
	// timer that wakes the loop when a paced lane may start (wakeAt).
	lanes    map[string]*lane
	suspends map[string]Suspension
	shaping  chan func()
	pace     *time.Timer
	wakeAt   time.Time
	shaped   shapedCounts // outcomes by site and tenant, for /metrics (shaped.go)
	// The backlog of stalled lanes, left out of what the Flow paces by
	// (flow.go): counted at flowAt, in pass flowPass.
	flowStalled int
	flowAt      time.Time
	// heldCount is the active messages holding their queue file open
	// (activeMsg.held), at most heldFiles.
	heldCount int
	flowPass  int
}

// Stats counts outcomes since start.
type Stats struct {
	Delivered, Deferred, Bounced, Expired int
	// ByTransport splits the recipient outcomes by the transport that
	// gave them ("none" for the queue's own, such as an unknown transport).
	ByTransport map[string]Outcomes
	// InFlight is the number of deliveries running now.
	InFlight int
	// Held counts deliveries the shared egress rate held back and put
	// back to wait (not attempts: nothing was recorded for them).
	Held int
}

// Outcomes counts recipient outcomes of one kind of delivery.
type Outcomes struct {
	Delivered, Deferred, Bounced int
}

// Stats returns a snapshot of the counters.
func (m *Manager) Stats() Stats {
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	s := m.stats
	s.ByTransport = make(map[string]Outcomes, len(m.stats.ByTransport))
	for k, v := range m.stats.ByTransport {
		s.ByTransport[k] = v
	}
	s.InFlight = int(m.inFlight.Load())
	return s
}

func (m *Manager) count(f func(*Stats)) {
	m.statsMu.Lock()
	f(&m.stats)
	m.statsMu.Unlock()
}

// Init prepares the channels; New-style construction in one place so
// Notify and Flush work even before Run starts.
func (m *Manager) Init() {
	if m.arrivals != nil {
		return
	}
	m.arrivals = make(chan arrival, arrivalQueue)
	m.rescan = make(chan struct{}, 1)
	m.finished = make(chan *activeMsg, 64)
	m.waitingSet = map[queue.ID]bool{}
	m.flush = make(chan chan int)
	m.admin = make(chan *adminReq)
	m.reconf = make(chan Config)
	m.results = make(chan *job, 64)
	m.prepared = make(chan *preparedMsg, 64)
	m.handoff.ready = make(chan struct{}, 1)
	m.active = map[queue.ID]*activeMsg{}
	m.dests = map[string]*destination{}
	m.lanes = map[string]*lane{}
	m.suspends = map[string]Suspension{}
	m.shaping = make(chan func())
	m.pace = time.NewTimer(time.Hour)
	m.pace.Stop()
	if m.Clock == nil {
		m.Clock = realClock{}
	}
	if m.Log == nil {
		m.Log = slog.Default()
	}
}

// arrivalQueue bounds the IDs waiting to be activated in memory; past it,
// the manager falls back to listing incoming/.
const arrivalQueue = 4096

// arrival is a message cleanup committed to incoming/, with its tenant.
type arrival struct {
	id     queue.ID
	tenant string
}

// Wake tells the manager that message id is in incoming/. An empty id
// asks for a full listing.
func (m *Manager) Wake(id queue.ID) { m.WakeTenant(id, "") }

// WakeTenant is Wake for a message of tenant, so that it is admitted to
// the active set in its tenant's turn; cleanup calls it after each
// commit.
func (m *Manager) WakeTenant(id queue.ID, tenant string) {
	if id != "" {
		select {
		case m.arrivals <- arrival{id, tenant}:
			return
		default: // full: fall back to a listing
		}
	}
	select {
	case m.rescan <- struct{}{}:
	default: // a listing is already pending
	}
}

// Flush makes all deferred mail due now and returns how many messages
// were moved back to the active queue.
func (m *Manager) Flush(ctx context.Context) int {
	reply := make(chan int, 1)
	select {
	case m.flush <- reply:
	case <-ctx.Done():
		return 0
	}
	select {
	case n := <-reply:
		return n
	case <-ctx.Done():
		return 0
	}
}

// Run schedules deliveries until ctx ends, then waits for the deliveries
// in flight (each bounded by DeliveryTimeout) and returns.
func (m *Manager) Run(ctx context.Context) error {
	m.Init()
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	m.ctx = dctx
	m.publishConfig()
	tick := time.NewTicker(m.Config.ScanInterval)
	defer tick.Stop()
	m.scanDeferred()
	m.loadIncoming()
	m.publish()
	m.handoff.open.Store(true)
	for {
		m.dispatch()
		m.armPace()
		m.Flow.set(m.flowHeld())
		m.publish()
		select {
		case <-ctx.Done():
			m.closeHandoff()
			m.drain()
			return nil
		case <-m.handoff.ready:
			m.takeAdopted()
		case am := <-m.finished:
			m.settled(am)
			m.refill()
		case a := <-m.arrivals:
			m.arrived(a)
		case <-m.rescan:
			m.loadIncoming()
		case j := <-m.results:
			m.complete(j)
		case p := <-m.prepared:
			m.resolved(p)
		case <-tick.C:
			m.scanDeferred()
			m.loadIncoming()
		case reply := <-m.flush:
			m.revive()
			reply <- m.flushDeferred()
		case req := <-m.admin:
			req.reply <- m.doAdmin(req)
		case c := <-m.reconf:
			m.applyConfig(c, tick)
		case <-m.pace.C: // a paced lane may start: dispatch
		case f := <-m.shaping:
			f()
		}
	}
}

// refill takes waiting mail into the room a settled message left.
func (m *Manager) refill() {
	if m.relist {
		m.loadIncoming()
		return
	}
	m.admit()
}

// drain waits for deliveries in flight and for messages being settled,
// recording their outcomes.
func (m *Manager) drain() {
	for _, t := range m.toPrepare { // never started: nothing moved
		if t.msg != nil {
			t.msg.Close()
		}
		delete(m.active, t.am.id)
	}
	m.toPrepare = nil
	for m.running > 0 || m.settling > 0 || len(m.toSettle) > 0 || m.preparing > 0 {
		select {
		case p := <-m.prepared:
			m.dropPrepared(p)
		case j := <-m.results:
			m.complete(j)
		case am := <-m.finished:
			m.settled(am)
		}
	}
	m.wg.Wait()
	m.closeAll()
}

// closeAll releases messages whose deliveries never started; they stay in
// active/ and return to incoming/ at the next start.
func (m *Manager) closeAll() {
	m.closeHandoff() // any handed over since the stop
	for id, am := range m.active {
		if am.msg != nil { // nil: its resolution never started
			am.msg.Close()
		}
		delete(m.active, id)
	}
}
