package queue

import "fmt"

// MaxTenantLen bounds a tenant name (Envelope.Tenant).
const MaxTenantLen = 64

// CheckTenant says whether name may be a message's tenant: 1 to
// MaxTenantLen bytes of printable ASCII without spaces or commas. The
// name appears as tenant=NAME in the comma-separated delivery log line
// and as a filter value on the command line, so it must never need
// quoting there; "" (no tenant) is not a name but the absence of one.
func CheckTenant(name string) error {
	if name == "" || len(name) > MaxTenantLen {
		return fmt.Errorf("tenant name must be 1 to %d bytes long", MaxTenantLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == ',' {
			return fmt.Errorf("tenant name %q: only printable ASCII without spaces or commas is allowed", name)
		}
	}
	return nil
}

// tenantRecord decodes a "G name" record into e.Tenant. The writer
// leaves the record out for a message without a tenant, so an empty
// name here is a damaged file, like any name CheckTenant refuses.
func tenantRecord(e *Envelope, f []string) error {
	if err := want('G', f, 1); err != nil {
		return err
	}
	if err := CheckTenant(f[0]); err != nil {
		return fmt.Errorf("record G: %v", err)
	}
	e.Tenant = f[0]
	return nil
}
