package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/smtpd"
)

// MaxInjectRecipients bounds the recipients of one inject request, as
// smtpd_recipient_limit bounds one SMTP transaction.
const MaxInjectRecipients = 1000

// injectRequest is the JSON of POST /api/inject. Recipients are address
// strings, or objects with per-recipient substitutions (the template
// form, one message per recipient).
type injectRequest struct {
	Sender        *string           `json:"sender"`
	Recipients    []json.RawMessage `json:"recipients"`
	Content       *string           `json:"content"`
	Substitutions map[string]string `json:"substitutions"`
	// Tenant puts the messages in a tenant, as s:set_tenant does for an
	// SMTP session (cleanup policy may still change it).
	Tenant string `json:"tenant"`
}

type rcptObject struct {
	Address       string            `json:"address"`
	Substitutions map[string]string `json:"substitutions"`
}

// injection is a checked inject request.
type injection struct {
	sender   string
	rcpts    []rcptObject
	content  string
	template bool // substitutions given: one message per recipient
	shared   map[string]string
	tenant   string
}

// placeholder is "{{ name }}" in a template's content.
var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}`)

// parseInject decodes and checks an inject request. Every error names the
// field at fault.
func parseInject(body []byte) (*injection, *apiError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req injectRequest
	if err := dec.Decode(&req); err != nil {
		return nil, decodeError(err)
	}
	if dec.More() {
		return nil, errorf(http.StatusBadRequest, "bad_request", "", "one JSON object expected, more data follows it")
	}
	in := &injection{shared: req.Substitutions, template: len(req.Substitutions) > 0}
	if req.Sender == nil {
		return nil, errorf(http.StatusBadRequest, "bad_request", "sender", `"sender" is required ("" for the null sender)`)
	}
	if *req.Sender != "" {
		if _, err := smtpd.ParseAddress(*req.Sender, true); err != nil {
			return nil, errorf(http.StatusBadRequest, "bad_address", "sender", "sender %q: %v", *req.Sender, err)
		}
	}
	in.sender = *req.Sender
	if req.Tenant != "" {
		if err := queue.CheckTenant(req.Tenant); err != nil {
			return nil, errorf(http.StatusBadRequest, "bad_tenant", "tenant", "%v", err)
		}
		in.tenant = req.Tenant
	}
	if apiErr := in.parseRecipients(req.Recipients); apiErr != nil {
		return nil, apiErr
	}
	if req.Content == nil || strings.TrimSpace(*req.Content) == "" {
		return nil, errorf(http.StatusBadRequest, "bad_request", "content", `"content" (the RFC 5322 message) is required`)
	}
	if !utf8.ValidString(*req.Content) || strings.ContainsRune(*req.Content, 0) {
		return nil, errorf(http.StatusBadRequest, "bad_content", "content", "content must be UTF-8 text without NUL")
	}
	in.content = *req.Content
	if in.template {
		if apiErr := in.checkPlaceholders(); apiErr != nil {
			return nil, apiErr
		}
	}
	return in, nil
}

func (in *injection) parseRecipients(raw []json.RawMessage) *apiError {
	switch {
	case len(raw) == 0:
		return errorf(http.StatusBadRequest, "bad_request", "recipients", `"recipients" needs at least one address`)
	case len(raw) > MaxInjectRecipients:
		return errorf(http.StatusBadRequest, "too_many_recipients", "recipients", "at most %d recipients per request", MaxInjectRecipients)
	}
	for i, r := range raw {
		field := fmt.Sprintf("recipients[%d]", i)
		var rc rcptObject
		if err := json.Unmarshal(r, &rc.Address); err != nil {
			dec := json.NewDecoder(bytes.NewReader(r))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&rc); err != nil {
				return errorf(http.StatusBadRequest, "bad_request", field, "an address string or {\"address\": ..., \"substitutions\": {...}}")
			}
			if len(rc.Substitutions) > 0 {
				in.template = true
			}
		}
		if _, err := smtpd.ParseAddress(rc.Address, true); err != nil {
			return errorf(http.StatusBadRequest, "bad_address", field, "recipient %q: %v", rc.Address, err)
		}
		in.rcpts = append(in.rcpts, rc)
	}
	return nil
}

// checkPlaceholders makes sure every recipient has a value for every
// placeholder, so a template is refused whole rather than sent half.
func (in *injection) checkPlaceholders() *apiError {
	names := placeholder.FindAllStringSubmatch(in.content, -1)
	for i, rc := range in.rcpts {
		for _, m := range names {
			if _, ok := rc.Substitutions[m[1]]; ok {
				continue
			}
			if _, ok := in.shared[m[1]]; !ok {
				return errorf(http.StatusBadRequest, "missing_substitution", fmt.Sprintf("recipients[%d]", i),
					"no substitution for {{%s}}", m[1])
			}
		}
	}
	return nil
}

// messages returns the envelopes and contents to submit.
func (in *injection) messages(client queue.Client) ([]*queue.Envelope, []string) {
	envelope := func(rcpts []rcptObject, content string) *queue.Envelope {
		env := &queue.Envelope{Sender: in.sender, Client: client, Tenant: in.tenant}
		utf := !isASCII(in.sender)
		for _, r := range rcpts {
			env.Recipients = append(env.Recipients, queue.Recipient{Addr: r.Address, State: queue.Pending})
			utf = utf || !isASCII(r.Address)
		}
		env.SMTPUTF8 = utf
		if !isASCII(content) {
			env.BodyType = "8BITMIME"
		}
		return env
	}
	if !in.template {
		return []*queue.Envelope{envelope(in.rcpts, in.content)}, []string{in.content}
	}
	var envs []*queue.Envelope
	var contents []string
	for _, r := range in.rcpts {
		c := placeholder.ReplaceAllStringFunc(in.content, func(p string) string {
			name := placeholder.FindStringSubmatch(p)[1]
			if v, ok := r.Substitutions[name]; ok {
				return v
			}
			return in.shared[name]
		})
		envs = append(envs, envelope([]rcptObject{r}, c))
		contents = append(contents, c)
	}
	return envs, contents
}

// injectResponse answers a successful inject.
type injectResponse struct {
	ID  queue.ID   `json:"id"`  // the first (or only) message
	IDs []queue.ID `json:"ids"` // every message, one per recipient in the template form
}

func (s *Server) inject(w http.ResponseWriter, r *http.Request) error {
	if s.Submit == nil {
		return errorf(http.StatusServiceUnavailable, "unavailable", "", "injection is not available")
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	in, apiErr := parseInject(body)
	if apiErr != nil {
		return apiErr
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	envs, contents := in.messages(queue.Client{Name: "localhost", Addr: host, Proto: "HTTP"})
	var ids []queue.ID
	for i, env := range envs {
		id, err := s.Submit.Submit(r.Context(), env, strings.NewReader(contents[i]))
		if err != nil {
			e := submitError(err, id)
			if in.template {
				e.Field = fmt.Sprintf("recipients[%d]", i)
				if len(ids) > 0 {
					e.Message += fmt.Sprintf(" (the %d messages before it were queued: %s)", len(ids), joinIDs(ids))
				}
			}
			return e
		}
		ids = append(ids, id)
	}
	s.log().Info(fmt.Sprintf("http inject from %s: %d messages queued", host, len(ids)), "client", host, "ids", joinIDs(ids))
	writeJSON(w, http.StatusOK, injectResponse{ID: ids[0], IDs: ids})
	return nil
}

// submitError maps cleanup's verdict to an answer: a permanent refusal
// (policy, size) is 422 with the SMTP text, anything else is temporary.
func submitError(err error, id queue.ID) *apiError {
	var st *dsn.Status
	if errors.As(err, &st) {
		if st.Permanent() {
			e := errorf(http.StatusUnprocessableEntity, "rejected", "", "the message was refused")
			e.SMTP = st.Error()
			return e
		}
		e := errorf(http.StatusServiceUnavailable, "temporary_failure", "", "the message was not queued, try again later")
		e.SMTP = st.Error()
		return e
	}
	return errorf(http.StatusServiceUnavailable, "temporary_failure", "", "the message was not queued (%s), try again later", id)
}

// readBody reads a request body within the server's limit.
func readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "too_large", "", "the request body is over %d bytes", mbe.Limit)
		}
		return nil, errorf(http.StatusBadRequest, "bad_request", "", "cannot read the request body")
	}
	return buf.Bytes(), nil
}

// decodeError turns a JSON decoding error into one that names the field.
func decodeError(err error) *apiError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return errorf(http.StatusBadRequest, "bad_request", te.Field, "%s: want %s, got %s", te.Field, te.Type, te.Value)
	case errors.As(err, &se):
		return errorf(http.StatusBadRequest, "bad_json", "", "not valid JSON at byte %d", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errorf(http.StatusBadRequest, "unknown_field", f, "unknown field %q", f)
	}
	return errorf(http.StatusBadRequest, "bad_json", "", "not a JSON object: %v", err)
}

func joinIDs(ids []queue.ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ",")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
