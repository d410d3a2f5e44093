package app

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestSyslogFormat(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newSyslogHandler(&buf, slog.LevelInfo, "mx.test", 4711))
	smtpd := log.With(slog.String("service", "smtpd"))
	smtpd.Info("66517289880008526D: client=unknown[127.0.0.1]", "listener", "smtp")
	smtpd.Warn("too many errors", "client", "192.0.2.1", "text", "a b\nc")
	log.With("service", "qmgr").WithGroup("g").Error("qmgr: cannot record outcome", "err", "disk full")
	log.Debug("not shown")
	log.Info("NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 Relay access denied", "queue_id", "x")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{
		" mx.test moonpost/smtpd[4711]: 66517289880008526D: client=unknown[127.0.0.1]",
		` mx.test moonpost/smtpd[4711]: warning: too many errors client=192.0.2.1 text="a b\\nc"`,
		" mx.test moonpost/qmgr[4711]: error: qmgr: cannot record outcome g.err=\"disk full\"",
		" mx.test moonpost[4711]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 Relay access denied",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for i, l := range lines {
		stamp, rest := l[:len(time.Stamp)], l[len(time.Stamp):]
		if _, err := time.Parse(time.Stamp, stamp); err != nil {
			t.Errorf("line %d: stamp %q: %v", i, stamp, err)
		}
		if rest != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, rest, want[i])
		}
	}
}
