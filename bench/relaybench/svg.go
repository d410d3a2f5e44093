package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// sample is the sink's count at a time since the load started.
type sample struct {
	t float64 // seconds
	n int
}

// readTimeline reads smtpsink's -timeline file ("seconds,count" lines,
// from the sink's start) and shifts it to start at the load's start,
// offset seconds later.
func readTimeline(path string, offset float64) []sample {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []sample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ts, ns, ok := strings.Cut(sc.Text(), ",")
		t, err1 := strconv.ParseFloat(ts, 64)
		n, err2 := strconv.Atoi(ns)
		if !ok || err1 != nil || err2 != nil {
			return nil
		}
		if t -= offset; t >= 0 {
			out = append(out, sample{t, n})
		}
	}
	return out
}

// series is one line of a plot.
type series struct {
	name    string
	samples []sample
}

// palette gives each series a colour that stays readable in print.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// plotSVG draws a count over time (messages delivered, or queued), one
// line per series, on shared axes: the picture of a benchmark point.
// ylabel names the count.
func plotSVG(title, ylabel string, ss []series) string {
	const w, h, left, right, top, bottom = 640.0, 360.0, 64.0, 16.0, 36.0, 48.0
	maxT, maxN := 1.0, 1
	for _, s := range ss {
		for _, p := range s.samples {
			maxT = math.Max(maxT, p.t)
			maxN = max(maxN, p.n)
		}
	}
	tStep, nStep := niceStep(maxT), niceStep(float64(maxN))
	maxT = math.Ceil(maxT/tStep) * tStep
	maxY := math.Ceil(float64(maxN)/nStep) * nStep
	x := func(t float64) float64 { return left + t/maxT*(w-left-right) }
	y := func(n float64) float64 { return h - bottom - n/maxY*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">%s</text>`+"\n", left, escapeXML(title))
	for t := 0.0; t <= maxT+tStep/2; t += tStep {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`, x(t), y(0), x(t), y(maxY))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(t), h-bottom+16, trimFloat(t))
	}
	for n := 0.0; n <= maxY+nStep/2; n += nStep {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`, x(0), y(n), x(maxT), y(n))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(n)+4, trimFloat(n))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">seconds since the load started</text>`+"\n", (left+w-right)/2, h-10)
	fmt.Fprintf(&b, `<text x="14" y="%.1f" text-anchor="middle" transform="rotate(-90 14 %.1f)">%s</text>`+"\n", (top+h-bottom)/2, (top+h-bottom)/2, escapeXML(ylabel))
	for i, s := range ss {
		colour := palette[i%len(palette)]
		var pts []string
		for _, p := range s.samples {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.t), y(float64(p.n))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", colour, strings.Join(pts, " "))
		ly := top + 8 + float64(i)*16
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`, left+12, ly, left+32, ly, colour)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+38, ly+4, escapeXML(s.name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceStep is a grid step of 1, 2 or 5 times a power of ten that cuts
// max into about five parts.
func niceStep(max float64) float64 {
	raw := max / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func escapeXML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
