package httpapi

import (
	"context"
	"net/http"
	"time"
)

// reload is POST /api/reload: the daemon re-reads moonpost.toml and its
// scripts, as "moonpost reload" does, and answers what took effect and
// what waits for a restart. A refused configuration or generation is a
// 422 with the reason; the running ones stay.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) error {
	if s.Reload == nil {
		return errorf(http.StatusServiceUnavailable, "unavailable", "", "reload is not available")
	}
	// A reload may reopen this very listener, which ends the request's
	// context; the reload runs to its end all the same, bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
	defer cancel()
	res, err := s.Reload(ctx)
	if err != nil {
		return errorf(http.StatusUnprocessableEntity, "reload_refused", "", "%v", err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
