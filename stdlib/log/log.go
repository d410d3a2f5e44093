package log

import (
	"context"
	"log/slog"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/hooks/luaconv"
)

// maxFields bounds the attributes of one record.
const maxFields = 32

// Module binds the Lua module to a logger and a generation number.
type Module struct {
	Logger     *slog.Logger
	Generation int
}

// Loader is the lua.LGFunction for PreloadModule("log", m.Loader).
func (m *Module) Loader(L *lua.LState) int {
	L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"debug": m.at(slog.LevelDebug),
		"info":  m.at(slog.LevelInfo),
		"warn":  m.at(slog.LevelWarn),
		"error": m.at(slog.LevelError),
	}))
	return 1
}

// Print is a replacement for Lua's print that logs at info level
// instead of writing to the daemon's stdout.
func (m *Module) Print(L *lua.LState) int {
	parts := make([]string, 0, L.GetTop())
	for i := 1; i <= L.GetTop(); i++ {
		parts = append(parts, L.ToStringMeta(L.Get(i)).String())
	}
	m.log(L, slog.LevelInfo, strings.Join(parts, "\t"), nil)
	return 0
}

func (m *Module) at(level slog.Level) lua.LGFunction {
	return func(L *lua.LState) int {
		m.log(L, level, L.CheckString(1), L.OptTable(2, nil))
		return 0
	}
}

func (m *Module) log(L *lua.LState, level slog.Level, msg string, fields *lua.LTable) {
	if m.Logger == nil {
		return
	}
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if !m.Logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("script", Where(L)),
		slog.Int("generation", m.Generation),
	}
	if fields != nil {
		fields.ForEach(func(k, v lua.LValue) {
			if len(attrs) < maxFields {
				attrs = append(attrs, slog.Any(k.String(), luaconv.FromLua(v)))
			}
		})
	}
	m.Logger.LogAttrs(ctx, level, msg, attrs...)
}

// Where names the Lua code calling the current Go function as
// "file.lua:12", or "?" when there is none.
func Where(L *lua.LState) string {
	w := strings.TrimSuffix(L.Where(1), ":")
	if w == "" {
		return "?"
	}
	return w
}
