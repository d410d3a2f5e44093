package hooks

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/moonpost/moonpost/core/queue"
)

// Tenant: the customer a message is sent for, a name policy chooses at
// SMTP time (s:set_tenant, kept with the connection like its metadata)
// or in cleanup (msg:set_tenant, which overrides the session's). Each
// message a connection queues starts in the connection's tenant; the
// name is stored in the queue file, and the queue manager schedules the
// tenants of one destination fairly. It reads back as s.tenant and
// msg.tenant, nil when none was chosen. Names are queue.CheckTenant's.

// tenantArg reads the name at argument n: a valid name, or nil for none.
// Anything else is a Lua error at the script's line.
func tenantArg(L *lua.LState, n int) string {
	v := L.Get(n)
	if v == lua.LNil {
		return ""
	}
	s, ok := v.(lua.LString)
	if !ok {
		L.ArgError(n, "tenant name (string) or nil expected, got "+v.Type().String())
	}
	if err := queue.CheckTenant(string(s)); err != nil {
		L.RaiseError("set_tenant: %s", err.Error())
	}
	return string(s)
}

// tenantValue is a tenant as Lua reads it: nil for none.
func tenantValue(name string) lua.LValue {
	if name == "" {
		return lua.LNil
	}
	return lua.LString(name)
}

// sessionTenant adds s.tenant and s:set_tenant to a session table. The
// name lives in *tenant, the connection's; set_tenant updates s.tenant
// too, so the handler reads back what it set. Without a connection to
// keep it (tenant nil), set_tenant fails.
func sessionTenant(L *lua.LState, t *lua.LTable, tenant *string) {
	if tenant != nil {
		t.RawSetString("tenant", tenantValue(*tenant))
	}
	t.RawSetString("set_tenant", L.NewFunction(func(L *lua.LState) int {
		if tenant == nil {
			L.RaiseError("this session keeps no tenant")
		}
		L.CheckTable(1)
		*tenant = tenantArg(L, 2)
		t.RawSetString("tenant", tenantValue(*tenant))
		return 0
	}))
}

// msgSetTenant is msg:set_tenant(name): the message's tenant, applied
// with the hook's other changes when it succeeds.
func msgSetTenant(L *lua.LState) int {
	h := checkMsg(L, true)
	h.env.Tenant = tenantArg(L, 2)
	return 0
}
