package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is every error the API answers with, as JSON:
//
//	{"error": {"code": "bad_request", "field": "recipients[2]", "message": "..."}}
//
// Code is a stable token for programs; Field names the request field at
// fault, when one is; SMTP carries a mail-system verdict ("550 5.7.1 ...").
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	SMTP    string `json:"smtp,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func errorf(status int, code, field, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, map[string]*apiError{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
