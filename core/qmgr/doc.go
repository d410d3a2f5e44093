// Package qmgr is the queue manager: it moves mail from incoming/ (and
// deferred/ when due) into active/, has every pending recipient resolved
// to a destination (transport + next hop), and hands deliveries to the
// agents.
//
// Scheduling follows Postfix's qmgr: a bounded active set
// (qmgr_message_active_limit); recipients grouped by destination, several
// per delivery up to a per-transport limit; a per-destination concurrency
// that starts low and grows with each success (slow start) and shrinks on
// failures; a destination that keeps failing at concurrency 1 is declared
// dead and its queued mail deferred at once instead of timing out one
// message at a time; round-robin between destinations, so one slow domain
// cannot starve the rest; and a global bound on deliveries in flight.
// Beyond Postfix, each destination serves its deliveries round-robin
// over the tenants policy put the mail in (jobqueue.go, fair.go), and
// mail waiting for room in the active set is admitted the same way, so
// one tenant's flood to a domain does not hold back another's mail.
//
// Egress shaping (lane.go, egress.go, suspend.go): the resolve workers
// ask the egress policy (the Lua "egress" hook, cached per destination
// and generation) for each job; destinations that share a site share a
// lane, which holds the concurrency window (from initial_concurrency up
// to connection_limit), the deliveries in flight and the pacing of
// message and connection starts. A lane without room or paced for later
// is passed over, and one timer wakes the loop when the earliest paced
// lane may start. With a RateGate (sharedrate.go: the throttle on
// Redis), the rates also hold for all nodes together: each delivery
// asks the gate in its own goroutine before it starts, and one the gate
// refuses goes back to its queue untried while its lane waits. Response rules on replies, and operators, suspend a
// site, a domain or a destination: its jobs are deferred untried.
//
// Every outcome is appended to the queue file and fsynced by the delivery
// goroutine before it is reported, so a recipient delivered before a crash
// is never delivered again. When a message's last delivery returns, it is
// removed (all done), or moved to deferred/ with its next attempt time
// (exponential backoff between min_backoff and max_backoff) as the file's
// mtime; mail older than max_lifetime fails. Failed recipients, delay
// warnings and NOTIFY=SUCCESS are reported to the sender through the
// Notifier (DSN bounce) before the file goes.
//
// The manager's state is owned by one goroutine (Run), which never calls
// Lua or DNS and never waits on the disk for a message: activation (the
// move into active/ and the read) and resolution run in a bounded pool of
// resolve workers (prepare.go, Config.Resolvers) that hand back the
// message's jobs on a channel; deliveries run in goroutines bounded by
// max_deliveries and report back on a channel.
// Operator actions (hold, release, requeue, delete, bounce; Apply) are
// requests served by that goroutine too, so they never race with an
// activation; a message being delivered is marked and acted on when its
// deliveries return, and its deliveries not yet started are dropped.
// Flush, release and requeue also forget which destinations were
// declared dead.
//
// After each event the manager tells its Flow how many messages it holds,
// and arrivals (smtpd, pickup) pause briefly while that exceeds the
// limit, as Postfix's in_flow_delay paces cleanup to the queue manager.
//
// Shutting down stops dispatching and waits for deliveries in flight; mail
// still in active/ returns to incoming/ at the next start.
package qmgr
