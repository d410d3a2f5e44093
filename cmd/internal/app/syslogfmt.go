package app

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// syslogHandler writes log records as a syslog daemon files Postfix's:
//
//	Dec  1 20:51:26 mx.example.com moonpost/smtpd[4711]: 66517289880008526D: client=unknown[127.0.0.1]
//
// so log tools written for Postfix (pflogsumm --syslog-name=moonpost,
// fail2ban, grep habits) read moonpost's logs. The program name is
// "moonpost/" plus the record's "service" attribute. A line in Postfix's
// own words (it starts with a queue ID, "NOQUEUE:" or a connection
// event) already says everything its attributes repeat, so they are left
// out; any other line keeps them as key=value. Levels above info get
// Postfix's "warning: " / "error: " prefix.
type syslogHandler struct {
	mu      *sync.Mutex
	w       io.Writer
	level   slog.Leveler
	host    string
	pid     int
	service string
	attrs   string // preformatted " k=v" of With, outside any group
	group   string // prefix for later attribute keys ("g.")
}

func newSyslogHandler(w io.Writer, level slog.Leveler, host string, pid int) *syslogHandler {
	return &syslogHandler{mu: &sync.Mutex{}, w: w, level: level, host: host, pid: pid}
}

func (h *syslogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// postfixStyle matches messages written in Postfix's own words.
var postfixStyle = regexp.MustCompile(`^(?:[0-9A-F]{10,}: |NOQUEUE: |(?:connect|disconnect|lost connection|timeout after \S+) from )`)

func (h *syslogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.Format(time.Stamp))
	b.WriteString(" " + h.host + " moonpost")
	service, attrs := h.service, h.attrs
	var extra strings.Builder
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "service" && h.group == "" {
			service = a.Value.String()
			return true
		}
		writeAttr(&extra, h.group, a)
		return true
	})
	if service != "" {
		b.WriteString("/" + service)
	}
	b.WriteString("[" + strconv.Itoa(h.pid) + "]: ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	b.WriteString(oneLine(r.Message))
	if !postfixStyle.MatchString(r.Message) {
		b.WriteString(attrs)
		b.WriteString(extra.String())
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *syslogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	var b strings.Builder
	for _, a := range as {
		if a.Key == "service" && h.group == "" {
			n.service = a.Value.String()
			continue
		}
		writeAttr(&b, h.group, a)
	}
	n.attrs += b.String()
	return &n
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.group += name + "."
	return &n
}

// writeAttr appends " key=value", quoting values with spaces, and
// flattening groups to dotted keys.
func writeAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			writeAttr(b, prefix+a.Key+".", g)
		}
		return
	}
	v := oneLine(a.Value.String())
	if v == "" || strings.ContainsAny(v, " \"=") {
		v = strconv.Quote(v)
	}
	b.WriteString(" " + prefix + a.Key + "=" + v)
}

// oneLine keeps a record on one line whatever a value holds.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}
