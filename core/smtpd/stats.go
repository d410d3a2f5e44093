package smtpd

import (
	"strings"
	"sync/atomic"

	"github.com/moonpost/moonpost/core/dsn"
)

// The stages and reasons of the rejection counters (Stats.Rejects).
// Both sets are fixed, so the metric's label set is bounded whatever
// clients send.
var (
	rejectStages  = [...]string{"connect", "mail", "rcpt", "data", "auth", "session"}
	rejectReasons = [...]string{
		"connection_limit",  // max_connections reached
		"client_limit",      // max_connections_per_ip or the connection rate
		"shutdown",          // the server is draining
		"relay_denied",      // RCPT to a foreign domain from an untrusted client
		"unknown_recipient", // a rejection with enhanced code X.1.1
		"policy",            // any other rejection by policy (scripts, milters)
		"policy_error",      // policy failed: 451 4.3.0
		"auth_required",     // MAIL on a submission port before AUTH
		"storage",           // queue_minfree or the declared SIZE
		"size",              // the message exceeded message_size_limit
		"content",           // header or content refused before the queue
		"error_limit",       // hard_error_limit or auth_failure_limit
		"auth_failed",       // AUTH with a wrong password
	}
)

// counters are the server's figures for Stats; every field is updated
// atomically, on paths that already log.
type counters struct {
	admitted map[string]uint64 // connections by listener name; guarded by Server.mu
	rejects  [len(rejectStages)][len(rejectReasons)]atomic.Uint64
}

// Stats are the SMTP server's figures since start.
type Stats struct {
	// Connections counts the connections admitted, by listener name.
	Connections map[string]uint64
	// Active is the number of connections open now.
	Active int
	// Rejects counts rejections by stage and reason; a stage or reason
	// never seen is absent.
	Rejects map[RejectKey]uint64
}

// RejectKey labels a rejection count.
type RejectKey struct{ Stage, Reason string }

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	st := Stats{Connections: map[string]uint64{}, Rejects: map[RejectKey]uint64{}}
	s.mu.Lock()
	for name, n := range s.counts.admitted {
		st.Connections[name] = n
	}
	st.Active = len(s.conns)
	s.mu.Unlock()
	for i := range rejectStages {
		for j := range rejectReasons {
			if n := s.counts.rejects[i][j].Load(); n > 0 {
				st.Rejects[RejectKey{rejectStages[i], rejectReasons[j]}] = n
			}
		}
	}
	return st
}

// countReject adds one rejection at stage (as logReject names it: CONNECT,
// MAIL, RCPT, DATA, AUTH, SESSION) with the reason reasonOf finds.
func (s *Server) countReject(stage string, st *dsn.Status) {
	i := 0
	switch stage {
	case "MAIL":
		i = 1
	case "RCPT":
		i = 2
	case "DATA":
		i = 3
	case "AUTH":
		i = 4
	case "SESSION":
		i = 5
	}
	s.counts.rejects[i][reasonOf(stage, st)].Add(1)
}

// reasonOf classifies a rejection by the reply the server sent; the
// index is into rejectReasons.
func reasonOf(stage string, st *dsn.Status) int {
	switch {
	case st == dsn.TooManyConns:
		return 0
	case st == dsn.TooManyFromHost:
		return 1
	case st == dsn.ShuttingDown:
		return 2
	case st.Code == dsn.RelayDenied.Code && strings.HasSuffix(st.Text, dsn.RelayDenied.Text):
		return 3
	case st == dsn.TempPolicy:
		return 6
	case st == dsn.AuthRequired:
		return 7
	case st == noStorage:
		return 8
	case st == dsn.MessageTooBig:
		return 9
	case st == tooManyErrors:
		return 11
	case st == dsn.AuthFailed:
		return 12
	case st.Enhanced[1] == 1 && st.Enhanced[2] == 1:
		return 4
	case stage == "DATA" && st.Enhanced[1] == 6:
		return 10 // 5.6.x: the content
	}
	return 5
}

// admit counts an admitted connection; called with Server.mu held.
func (c *counters) admit(listener string) {
	if c.admitted == nil {
		c.admitted = map[string]uint64{}
	}
	c.admitted[listener]++
}
