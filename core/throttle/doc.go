// Package throttle is moonpost's rate limiter: GCRA (the generic cell
// rate algorithm, as redis-cell and KumoMTA use), node-local in memory
// or shared by every node through one Redis.
//
// A rate "N/P" (P one of s, min, h) lets a key through N times at once
// and then once every P/N: the bucket holds N and refills at N per P.
// Over any window of length W at most N + W·N/P checks pass.
//
// Shared checks run one server-side Lua script per call (EVALSHA, with
// EVAL after a restart emptied the script cache), which reads the key's
// theoretical arrival time, decides and writes it back atomically on
// Redis's own clock, so the nodes' clocks do not matter. Keys starting
// with "local:" are always kept in the node, and without a Redis client
// every key is.
//
// Failure: when Redis is unreachable or slower than the call timeout,
// Check either returns ErrUnavailable (fail closed: the caller answers
// with a temporary error) or, with FailOpen, decides with the node-local
// limit for that key; either way a warning is logged at most once per
// LogEvery. When Redis comes back — a restart loses its counters, so
// keys start with a full bucket — shared checks resume on the next call.
package throttle
