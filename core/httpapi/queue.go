package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/moonpost/moonpost/core/admin"
	"github.com/moonpost/moonpost/core/control"
	"github.com/moonpost/moonpost/core/queue"
)

// opTimeout bounds one queue operation, as the control socket bounds a
// chunk: an action over a huge queue answers instead of hanging.
const opTimeout = 2 * time.Minute

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	if s.Control == nil {
		return errorf(http.StatusServiceUnavailable, "unavailable", "", "status is not available")
	}
	st, err := s.Control.Status(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// queueList is GET /api/queue?state=deferred&rcpt_domain=example.org:
// the REPL's and the CLI's filter keys as query parameters.
func (s *Server) queueList(w http.ResponseWriter, r *http.Request) error {
	var spec admin.Spec
	for key, values := range r.URL.Query() {
		for _, v := range values {
			if err := spec.Set(key, v); err != nil {
				return errorf(http.StatusBadRequest, "bad_filter", key, "%v", err)
			}
		}
	}
	return s.queueCommand(w, r, &control.Request{Action: "list", Filter: &spec})
}

func (s *Server) queueStats(w http.ResponseWriter, r *http.Request) error {
	return s.queueCommand(w, r, &control.Request{Action: "stats"})
}

// queueShow is GET /api/queue/ID[?body=BYTES]: envelope, headers and
// up to BYTES of the body (default 64 KiB, 0 for none).
func (s *Server) queueShow(w http.ResponseWriter, r *http.Request) error {
	if s.Admin == nil {
		return errorf(http.StatusServiceUnavailable, "unavailable", "", "the queue is not available")
	}
	id := queue.ID(r.PathValue("id"))
	if !queue.Valid(string(id)) {
		return errorf(http.StatusBadRequest, "bad_id", "id", "%q is not a queue ID", id)
	}
	limit := int64(64 << 10)
	if b := r.URL.Query().Get("body"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "bad_request", "body", "body: want a byte count, got %q", b)
		}
		limit = n
	}
	m, err := s.Admin.Get(id, limit)
	if errors.Is(err, queue.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", "id", "no message %s in the queue", id)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// actionRequest is the body of POST /api/queue/ACTION.
type actionRequest struct {
	IDs    []string    `json:"ids"`
	Filter *admin.Spec `json:"filter"`
	Reason string      `json:"reason"` // hold reason or bounce text
	Domain string      `json:"domain"` // flush: only this recipient domain
	DryRun bool        `json:"dry_run"`
}

// queueAct is POST /api/queue/{hold,release,requeue,delete,bounce,flush}.
func (s *Server) queueAct(w http.ResponseWriter, r *http.Request) error {
	action := r.PathValue("action")
	if _, ok := admin.ParseOp(action); !ok && action != "flush" {
		return errorf(http.StatusNotFound, "unknown_action", "action", "unknown queue action %q (hold, release, requeue, delete, bounce, flush)", action)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	req, apiErr := parseAction(body)
	if apiErr != nil {
		return apiErr
	}
	creq := &control.Request{Action: action, IDs: req.IDs, Filter: req.Filter, Text: req.Reason, DryRun: req.DryRun}
	if action == "flush" {
		creq.Text = req.Domain
	} else if len(req.IDs) == 0 && req.Filter == nil {
		return errorf(http.StatusBadRequest, "bad_request", "ids", `name the messages: "ids" or a "filter"`)
	}
	return s.queueCommand(w, r, creq)
}

// parseAction decodes an action body strictly: an unknown key is an
// error, so a typo never widens a selection about to be deleted.
func parseAction(body []byte) (*actionRequest, *apiError) {
	var req actionRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return &req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, decodeError(err)
	}
	for i, id := range req.IDs {
		if !queue.Valid(id) {
			return nil, errorf(http.StatusBadRequest, "bad_id", "ids["+strconv.Itoa(i)+"]", "%q is not a queue ID", id)
		}
	}
	if req.Filter != nil {
		if _, err := req.Filter.Compile(); err != nil {
			return nil, errorf(http.StatusBadRequest, "bad_filter", "filter", "%v", err)
		}
	}
	return &req, nil
}

func (s *Server) queueCommand(w http.ResponseWriter, r *http.Request, req *control.Request) error {
	if s.Control == nil {
		return errorf(http.StatusServiceUnavailable, "unavailable", "", "the queue is not available")
	}
	if req.Filter != nil {
		if _, err := req.Filter.Compile(); err != nil {
			return errorf(http.StatusBadRequest, "bad_filter", "filter", "%v", err)
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
	defer cancel()
	v, err := s.Control.QueueCommand(ctx, req)
	if errors.Is(err, admin.ErrNoManager) {
		return errorf(http.StatusServiceUnavailable, "unavailable", "", "%v", err)
	}
	if err != nil {
		return err
	}
	if list, ok := v.([]admin.Entry); ok && list == nil {
		v = []admin.Entry{} // an empty queue is [], not null
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
