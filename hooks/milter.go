package hooks

import (
	"context"
	"fmt"
	nettextproto "net/textproto"
	"regexp"
	"strconv"
	"strings"

	"github.com/emersion/go-message/textproto"
	gomilter "github.com/emersion/go-milter"
	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/milter"
	"github.com/moonpost/moonpost/core/queue"
)

var _ milter.Judge = (*Engine)(nil)

// Judge runs "milter" handlers: handler(result, msg), for each answer of
// a milter that is not "continue" (at an SMTP phase, or about the
// content), before the answer is applied.
// result is a table describing the answer (see resultTable); msg is a
// read-only message handle, the message as the earlier milters left it
// (for an answer at an SMTP phase: the envelope so far, no header).
// A handler returns nil to let the answer stand, or a verdict that
// replaces it: mta.accept() (keep the milter's edits, drop its refusal:
// tag instead of reject), mta.reject()/mta.defer(), mta.hold(reason)
// (accept and quarantine), mta.discard(). result.add_header(name, value)
// adds a field and result.skip() ignores the milter altogether.
func (e *Engine) Judge(ctx context.Context, r *milter.Result, env *queue.Envelope, hdr *textproto.Header) error {
	if !e.Handles("milter") {
		return nil
	}
	h := newMsgHandle(hdr, env)
	h.readOnly = true
	defer h.invalidate()
	j := &judgement{}
	c := &call{event: "milter", queueID: string(env.ID)}
	c.args = func(L *lua.LState, buf []lua.LValue) []lua.LValue {
		return append(buf, resultTable(L, r, j), h.userdata(L))
	}
	c.decide = func(L *lua.LState, ret lua.LValue, where string) (bool, string, error) {
		if ret == lua.LNil {
			return false, "", nil
		}
		v, ok := asVerdict(ret)
		if !ok {
			return false, "", fmt.Errorf("milter handler must return nil or a verdict, not %s", describe(ret))
		}
		j.verdict = v
		return true, v.String(), nil
	}
	if _, err := e.invoke(ctx, c); err != nil {
		return err
	}
	j.apply(r)
	return nil
}

// judgement is what the handlers decided about one milter's answer.
type judgement struct {
	verdict *verdict
	added   [][2]string // result.add_header
	skip    bool        // result.skip()
}

func (j *judgement) apply(r *milter.Result) {
	if j.skip {
		r.Action, r.Status, r.Quarantine, r.Edits = "accept", nil, "", nil
		return
	}
	if v := j.verdict; v != nil {
		switch v.kind {
		case vAccept:
			r.Action, r.Status = "accept", nil
		case vReject:
			r.Action, r.Status = "reject", v.status
			if v.status.Temporary() {
				r.Action = "tempfail"
			}
		case vHold:
			r.Action, r.Status, r.Quarantine = "accept", nil, v.reason
		case vDiscard:
			r.Action = "discard"
		}
	}
	for _, a := range j.added {
		r.Edits = append(r.Edits, milter.AddHeader(a[0], a[1]))
	}
}

// resultTable is the Lua view of a milter's answer: milter, action,
// phase, rcpt (for an answer at RCPT), code/enhanced/text (for a refusal), quarantine, failed (why the
// default action was taken, or nil), headers (the fields the milter adds
// or changes, by name), and from rspamd's headers score,
// required_score and spam.
func resultTable(L *lua.LState, r *milter.Result, j *judgement) *lua.LTable {
	t := L.CreateTable(0, 16)
	t.RawSetString("milter", lua.LString(r.Milter))
	t.RawSetString("action", lua.LString(r.Action))
	t.RawSetString("phase", lua.LString(r.Phase))
	if r.Rcpt != "" {
		t.RawSetString("rcpt", lua.LString(r.Rcpt))
	}
	if r.Status != nil {
		t.RawSetString("code", lua.LNumber(r.Status.Code))
		t.RawSetString("enhanced", lua.LString(r.Status.Enhanced.String()))
		t.RawSetString("text", lua.LString(r.Status.Text))
	}
	if r.Quarantine != "" {
		t.RawSetString("quarantine", lua.LString(r.Quarantine))
	}
	if r.Failed != "" {
		t.RawSetString("failed", lua.LString(r.Failed))
	}
	hdrs := editedHeaders(r.Edits)
	ht := L.CreateTable(0, len(hdrs))
	for k, v := range hdrs {
		ht.RawSetString(k, lua.LString(v))
	}
	t.RawSetString("headers", ht)
	setScore(t, hdrs)
	t.RawSetString("add_header", L.NewFunction(func(L *lua.LState) int {
		base := 1
		if L.Get(1) == t { // result:add_header(...)
			base = 2
		}
		name, value := L.CheckString(base), L.CheckString(base+1)
		if !validHeaderName(name) || len(value) > maxHeaderValue || strings.ContainsAny(value, "\r\n") {
			L.ArgError(base, "bad header field")
		}
		j.added = append(j.added, [2]string{name, value})
		return 0
	}))
	t.RawSetString("skip", L.NewFunction(func(*lua.LState) int { j.skip = true; return 0 }))
	return t
}

// editedHeaders maps each field name a milter adds or changes to its
// last value, with the canonical capitalisation.
func editedHeaders(edits []gomilter.ModifyAction) map[string]string {
	out := map[string]string{}
	for _, e := range edits {
		switch e.Code {
		case gomilter.ActAddHeader, gomilter.ActInsertHeader, gomilter.ActChangeHeader:
			out[nettextproto.CanonicalMIMEHeaderKey(e.HeaderName)] = strings.TrimSpace(e.HeaderValue)
		}
	}
	return out
}

var (
	spamdResult = regexp.MustCompile(`^\s*\S+:\s*(True|False)\s*\[\s*(-?[0-9.]+)\s*/\s*(-?[0-9.]+)\s*\]`)
	spamScore   = regexp.MustCompile(`score=(-?[0-9.]+)`)
)

// setScore reads rspamd's verdict from X-Spamd-Result ("default: True
// [16.50 / 15.00]; ..."), X-Spam-Status ("Yes, score=16.50") and X-Spam.
func setScore(t *lua.LTable, hdrs map[string]string) {
	spam := strings.EqualFold(hdrs["X-Spam"], "yes")
	if m := spamdResult.FindStringSubmatch(hdrs["X-Spamd-Result"]); m != nil {
		spam = spam || m[1] == "True"
		setNumber(t, "score", m[2])
		setNumber(t, "required_score", m[3])
	} else if m := spamScore.FindStringSubmatch(hdrs["X-Spam-Status"]); m != nil {
		setNumber(t, "score", m[1])
	}
	if s, ok := hdrs["X-Spam-Status"]; ok && strings.HasPrefix(strings.ToLower(s), "yes") {
		spam = true
	}
	t.RawSetString("spam", lua.LBool(spam))
}

func setNumber(t *lua.LTable, key, s string) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		t.RawSetString(key, lua.LNumber(f))
	}
}

// validHeaderName is RFC 5322's field name.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}
