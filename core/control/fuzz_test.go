package control

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzReadFrame feeds arbitrary bytes to the control socket's frame
// reader, which parses whatever a local client sends before any other
// check: it must not panic, must not allocate for a length it will
// refuse, and a frame it accepts must survive a round trip.
func FuzzReadFrame(f *testing.F) {
	frame := func(s string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(s)))
		return append(b, s...)
	}
	f.Add(frame(`{"op":"eval","code":"return 1"}`))
	f.Add(frame(`{"op":"queue","action":"hold","ids":["../../etc"],"filter":{"sender":"a"}}`))
	f.Add(frame(`{"op":"eval","bogus":1}`))
	f.Add(frame(`{"op":`))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var req Request
		if err := ReadFrame(bytes.NewReader(data), &req); err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteFrame(&buf, req); err != nil {
			t.Fatalf("accepted frame does not encode: %v", err)
		}
		var again Request
		if err := ReadFrame(&buf, &again); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}
