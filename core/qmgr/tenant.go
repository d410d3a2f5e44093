package qmgr

import "strings"

// withTenant adds ", tenant=NAME" to a delivery log line before its
// status, which Postfix-style lines keep last: "…, dsn=2.0.0,
// tenant=acme, status=sent (250 ok)". tail is the line's status part as
// written, ", status=sent (250 ok)"; a line without a tenant is left as
// it is. Tenant names hold no spaces or commas (queue.CheckTenant), so
// the field needs no quoting.
func withTenant(line, tail, tenant string) string {
	if tenant == "" || !strings.HasSuffix(line, tail) {
		return line
	}
	return line[:len(line)-len(tail)] + ", tenant=" + tenant + tail
}
