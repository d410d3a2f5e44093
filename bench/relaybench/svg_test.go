package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadTimelineShifts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tl")
	os.WriteFile(path, []byte("0.0,0\n0.1,0\n0.2,5\n0.3,9\n"), 0o644)
	got := readTimeline(path, 0.15)
	if len(got) != 2 || got[0].n != 5 || got[1].n != 9 || got[0].t < 0.04 || got[0].t > 0.06 {
		t.Fatalf("%+v", got)
	}
	os.WriteFile(path, []byte("0.0,x\n"), 0o644)
	if readTimeline(path, 0) != nil {
		t.Error("a bad line must give no timeline")
	}
}

// The plot is well-formed XML with one polyline per series and the
// legend's names escaped.
func TestPlotSVG(t *testing.T) {
	svg := plotSVG("1 KiB, 20 clients", "messages delivered", []series{
		{"postfix", []sample{{0, 0}, {1, 40}, {2.5, 100}}},
		{"moonpost <x>", []sample{{0, 0}, {0.5, 100}}},
	})
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not XML: %v\n%s", err, svg)
	}
	if strings.Count(svg, "<polyline") != 2 || !strings.Contains(svg, "moonpost &lt;x&gt;") {
		t.Errorf("%s", svg)
	}
}

func TestNiceStep(t *testing.T) {
	for in, want := range map[float64]float64{10: 2, 100: 20, 7: 2, 1: 0.2, 20000: 5000, 3.3: 1} {
		if got := niceStep(in); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", in, got, want)
		}
	}
}
