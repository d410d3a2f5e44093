package time

import (
	"errors"
	"math"
	gotime "time"

	netmail "net/mail"

	lua "github.com/yuin/gopher-lua"
)

// Module binds the Lua module to a clock, so tests can fix "now".
type Module struct {
	Now func() gotime.Time // nil: time.Now
	Loc *gotime.Location   // zone for format without a zone argument; nil: Local
}

// Loader is the lua.LGFunction for PreloadModule("time", Loader), with
// the real clock.
func Loader(L *lua.LState) int { return (&Module{}).Loader(L) }

// Loader is the lua.LGFunction for PreloadModule("time", m.Loader).
func (m *Module) Loader(L *lua.LState) int {
	L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"now":    m.now,
		"format": m.format,
		"parse":  parse,
	}))
	return 1
}

var layouts = map[string]string{
	"rfc3339": gotime.RFC3339,
	"rfc5322": "Mon, 02 Jan 2006 15:04:05 -0700",
	"date":    "2006-01-02",
}

func (m *Module) now(L *lua.LState) int {
	now := gotime.Now
	if m.Now != nil {
		now = m.Now
	}
	L.Push(lua.LNumber(float64(now().UnixNano()) / 1e9))
	return 1
}

// FromUnix converts Lua seconds to a time.Time.
func FromUnix(sec float64) gotime.Time {
	whole, frac := math.Modf(sec)
	return gotime.Unix(int64(whole), int64(frac*1e9))
}

func (m *Module) format(L *lua.LState) int {
	t := FromUnix(float64(L.CheckNumber(1)))
	layout := L.OptString(2, "rfc5322")
	if named, ok := layouts[layout]; ok {
		layout = named
	}
	loc := m.Loc
	if loc == nil {
		loc = gotime.Local
	}
	if zone := L.OptString(3, ""); zone != "" {
		l, err := gotime.LoadLocation(zone)
		if err != nil {
			L.ArgError(3, "unknown time zone")
		}
		loc = l
	}
	L.Push(lua.LString(t.In(loc).Format(layout)))
	return 1
}

// parse reads s with the given layout, or without one tries RFC 5322
// (every form net/mail accepts) and then RFC 3339.
func parse(L *lua.LState) int {
	s := L.CheckString(1)
	t, err := parseTime(s, L.OptString(2, ""))
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(lua.LNumber(float64(t.UnixNano()) / 1e9))
	return 1
}

func parseTime(s, layout string) (gotime.Time, error) {
	if named, ok := layouts[layout]; ok {
		layout = named
	}
	if layout != "" {
		return gotime.Parse(layout, s)
	}
	if t, err := netmail.ParseDate(s); err == nil {
		return t, nil
	}
	if t, err := gotime.Parse(gotime.RFC3339, s); err == nil {
		return t, nil
	}
	return gotime.Time{}, errors.New("time: cannot parse " + s)
}
