// Package tally holds the few counting types the engine keeps for
// /metrics: a latency histogram with fixed buckets and a counter split by
// a bounded set of labels (the busiest N keys and "other").
//
// Both are written on hot paths (an SMTP command, a hook call, an fsync),
// so an update is a few atomic adds or one short critical section, and
// never allocates once a key is known. Reading them (a scrape) takes a
// snapshot. The package imports nothing of the engine, so every role can
// count without an import cycle through core/metrics.
package tally
