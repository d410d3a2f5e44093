// Package httpapi is the daemon's HTTP listener: /metrics for Prometheus
// and a JSON API under /api/ for the systems around the MTA.
//
// Job: accept mail as JSON (/api/inject) and hand it to cleanup like any
// other submission, answering 200 with the queue ID only after the queue
// commit, as SMTP's 250 does; serve the status and the queue operations of
// the CLI and the REPL through the same code (core/control's Status and
// QueueCommand, which run core/admin), never a copy of it.
// Reads: HTTP requests, bounded in size, time and number in flight.
// Writes: queue files through cleanup; nothing else.
// Security: everything under /api/ needs "Authorization: Bearer TOKEN"
// (the token file's first line, compared in constant time); /metrics needs
// none, so bind the listener to an address only the monitoring can reach.
// Fails: bad input is a 400 with a JSON error naming the field; a queue
// that cannot take the message is 503 (temporary) or 422 (refused by
// policy, with the SMTP code and text); the API never answers 200 for mail
// that is not committed.
package httpapi
