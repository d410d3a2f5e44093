// Package webhook sends delivery events to the outside: each [[webhook]]
// sink POSTs JSON batches of the delivered, deferred and bounced events
// to a URL.
//
// Job: take events from the queue manager (as a policy.Events), gather
// them into batches of at most BatchSize, write each batch to the spool
// as one file, and POST the files oldest first until the receiver
// answers 2xx; then remove them.
// Reads: nothing but its own batch files, at start and before each POST.
// Writes: SPOOL/events/NAME/NNNNNNNNNNNNNNNN.json, each a JSON array of
// events and exactly the body POSTed; written to a temp file, fsynced,
// renamed, and the directory fsynced, as queue files are.
// Durability: a batch on disk is never lost: a failed POST is retried
// with a doubling backoff (MinBackoff to MaxBackoff), across restarts.
// An orderly shutdown (Close) writes the events still in memory; a crash
// loses at most the events of the last FlushInterval, which were not yet
// on disk. A receiver may see a batch twice (a crash between its 2xx and
// the removal): events carry the queue ID, recipient and time to
// de-duplicate on.
// Bounds: events wait in a channel of a few batches; when it is full
// (the disk is slower than the deliveries) the caller waits, which slows
// the queue manager rather than growing memory. The spool stops at
// MaxSpoolBytes: past it new events are dropped, counted and logged,
// never the mail.
package webhook
