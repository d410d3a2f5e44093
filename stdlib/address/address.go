package address

import (
	"errors"
	"net/mail"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/net/idna"
)

// Loader is the lua.LGFunction for PreloadModule("address", Loader).
func Loader(L *lua.LState) int {
	L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"parse":           luaParse,
		"split":           luaSplit,
		"normalize":       luaNormalize,
		"valid":           luaValid,
		"to_ascii":        luaToASCII,
		"to_unicode":      luaToUnicode,
		"extension":       luaExtension,
		"strip_extension": luaStripExtension,
	}))
	return 1
}

// maxLen bounds an address (RFC 5321: 256 for a path).
const maxLen = 320

// Addr is a parsed address.
type Addr struct {
	Local   string
	Domain  string // lower case, A-label form; "" for a bare local part
	Display string // display name, "" when absent
}

// Parse reads "Foo <a@b>", "<a@b>" or "a@b". A bare local part without a
// domain is accepted (sendmail submissions have them) with Domain "".
func Parse(s string) (Addr, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 2*maxLen || strings.ContainsAny(s, "\r\n\x00") {
		return Addr{}, errors.New("invalid address")
	}
	addr, display := s, ""
	if strings.ContainsAny(s, "<>\" ") {
		pa, err := mail.ParseAddress(s)
		if err != nil {
			return Addr{}, errors.New("invalid address")
		}
		addr, display = pa.Address, pa.Name
	}
	if !strings.Contains(addr, "@") {
		return Addr{Local: addr, Display: display}, nil
	}
	local, domain := Split(addr)
	if local == "" || domain == "" {
		return Addr{}, errors.New("invalid address")
	}
	d, err := ToASCII(domain)
	if err != nil {
		return Addr{}, err
	}
	return Addr{Local: local, Domain: d, Display: display}, nil
}

// Split cuts an address at its last "@"; without one, domain is "".
func Split(addr string) (local, domain string) {
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "<"), ">")
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return addr, ""
	}
	return addr[:i], addr[i+1:]
}

// ToASCII lower-cases a domain and converts it to A-labels. A trailing
// dot is dropped; "[192.0.2.1]" address literals are kept as they are.
func ToASCII(domain string) (string, error) {
	domain = strings.TrimSuffix(domain, ".")
	if strings.HasPrefix(domain, "[") {
		return domain, nil
	}
	a, err := idna.Lookup.ToASCII(strings.ToLower(domain))
	if err != nil {
		return "", errors.New("invalid domain: " + domain)
	}
	return a, nil
}

// ToUnicode converts a domain to U-labels for display.
func ToUnicode(domain string) (string, error) {
	u, err := idna.Lookup.ToUnicode(strings.ToLower(domain))
	if err != nil {
		return "", errors.New("invalid domain: " + domain)
	}
	return u, nil
}

// Normalize returns local@domain with the domain in canonical form.
func Normalize(addr string) (string, error) {
	a, err := Parse(addr)
	if err != nil {
		return "", err
	}
	if a.Domain == "" {
		return a.Local, nil
	}
	return a.Local + "@" + a.Domain, nil
}

// Valid reports whether addr is a complete local@domain address.
func Valid(addr string) bool {
	a, err := Parse(addr)
	return err == nil && a.Local != "" && a.Domain != "" && len(a.Local)+len(a.Domain) < maxLen
}

// Extension returns the part of the local part after the first
// delimiter ("u+tag@d" → "tag"), and whether there was one.
func Extension(addr, delim string) (string, bool) {
	local, _ := Split(addr)
	i := strings.Index(local, delim)
	if i <= 0 || delim == "" {
		return "", false
	}
	return local[i+len(delim):], true
}

// StripExtension drops the extension: "u+tag@d" → "u@d".
func StripExtension(addr, delim string) string {
	local, domain := Split(addr)
	if i := strings.Index(local, delim); i > 0 && delim != "" {
		local = local[:i]
	}
	if domain == "" && !strings.Contains(addr, "@") {
		return local
	}
	return local + "@" + domain
}

func luaParse(L *lua.LState) int {
	a, err := Parse(L.CheckString(1))
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	t := L.CreateTable(0, 3)
	t.RawSetString("local", lua.LString(a.Local))
	t.RawSetString("domain", lua.LString(a.Domain))
	t.RawSetString("display", lua.LString(a.Display))
	L.Push(t)
	return 1
}

func luaSplit(L *lua.LState) int {
	local, domain := Split(L.CheckString(1))
	L.Push(lua.LString(local))
	L.Push(lua.LString(domain))
	return 2
}

func luaNormalize(L *lua.LState) int {
	s, err := Normalize(L.CheckString(1))
	return pushResult(L, s, err)
}

func luaValid(L *lua.LState) int {
	L.Push(lua.LBool(Valid(L.CheckString(1))))
	return 1
}

func luaToASCII(L *lua.LState) int {
	s, err := ToASCII(L.CheckString(1))
	return pushResult(L, s, err)
}

func luaToUnicode(L *lua.LState) int {
	s, err := ToUnicode(L.CheckString(1))
	return pushResult(L, s, err)
}

func luaExtension(L *lua.LState) int {
	ext, ok := Extension(L.CheckString(1), L.OptString(2, "+"))
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(ext))
	return 1
}

func luaStripExtension(L *lua.LState) int {
	L.Push(lua.LString(StripExtension(L.CheckString(1), L.OptString(2, "+"))))
	return 1
}

func pushResult(L *lua.LState, s string, err error) int {
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(lua.LString(s))
	return 1
}
