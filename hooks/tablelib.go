package hooks

import (
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// tablePollEvery is how many elements or comparisons pass between two
// looks at the state's context in table.concat and table.sort.
const tablePollEvery = 4096

// tableConcat is table.concat(t [, sep [, i [, j]]]) with the result's
// size checked against max before anything is joined, and the state's
// context polled while the table is walked.
func tableConcat(L *lua.LState, limit int) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, t.Len())
	poll := poller(L)
	parts := make([]string, 0, min(max(j-i+1, 0), 1024))
	size := 0
	for k := i; k <= j; k++ {
		if poll != nil && (k-i)%tablePollEvery == 0 {
			if err := poll(); err != nil {
				L.RaiseError("%s", err.Error())
			}
		}
		v := t.RawGetInt(k)
		if !lua.LVCanConvToString(v) {
			L.RaiseError("invalid value (at index %d) in table for 'concat'", k)
		}
		s := lua.LVAsString(v)
		if size += len(s); k < j {
			size += len(sep)
		}
		if size > limit {
			L.RaiseError("table.concat: result longer than %d bytes", limit)
		}
		parts = append(parts, s)
	}
	L.Push(lua.LString(strings.Join(parts, sep)))
	return 1
}

// tableSort is table.sort(t [, comp]): the array part 1..#t is sorted in
// Go, with a comparator written in Lua or Lua's own order, polling the
// state's context every tablePollEvery comparisons. The table is
// written back only once the sort is complete.
func tableSort(L *lua.LState) int {
	t := L.CheckTable(1)
	s := &luaSorter{L: L, poll: poller(L), vals: make([]lua.LValue, t.Len())}
	if fn, ok := L.Get(2).(*lua.LFunction); ok {
		s.comp = fn
	} else if L.Get(2) != lua.LNil {
		L.ArgError(2, "function expected")
	}
	for i := range s.vals {
		s.vals[i] = t.RawGetInt(i + 1)
	}
	if err := s.run(); err != nil {
		L.RaiseError("%s", err.Error())
	}
	for i, v := range s.vals {
		t.RawSetInt(i+1, v)
	}
	return 0
}

// luaSorter is sort.Interface over a table's values.
type luaSorter struct {
	L     *lua.LState
	vals  []lua.LValue
	comp  *lua.LFunction // nil: the < operator
	poll  func() error
	count int
}

// sortStop carries the poll's error out of sort.Sort.
type sortStop struct{ err error }

func (s *luaSorter) run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			stop, ok := r.(sortStop)
			if !ok {
				panic(r) // a Lua error from the comparator: let it raise
			}
			err = stop.err
		}
	}()
	sort.Sort(s)
	return nil
}

func (s *luaSorter) Len() int      { return len(s.vals) }
func (s *luaSorter) Swap(i, j int) { s.vals[i], s.vals[j] = s.vals[j], s.vals[i] }

func (s *luaSorter) Less(i, j int) bool {
	if s.count++; s.poll != nil && s.count%tablePollEvery == 0 {
		if err := s.poll(); err != nil {
			panic(sortStop{err})
		}
	}
	if s.comp == nil {
		return s.L.LessThan(s.vals[i], s.vals[j])
	}
	s.L.Push(s.comp)
	s.L.Push(s.vals[i])
	s.L.Push(s.vals[j])
	s.L.Call(2, 1)
	less := lua.LVAsBool(s.L.Get(-1))
	s.L.Pop(1)
	return less
}
