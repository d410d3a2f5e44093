package hooks

import (
	"bufio"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// deprecation is an old name of the Lua API, kept working for one
// release, and the one to use instead.
type deprecation struct {
	re  *regexp.Regexp
	old string
	use string
}

// deprecations lists the old names. One name per concept: mta.defer,
// regex.gsub, the session's client table as msg.client's, id for the
// queue ID everywhere, and a returned verdict as the one way to decide
// in cleanup (as in every other phase).
var deprecations = []deprecation{
	{regexp.MustCompile(`\bmta\.tempfail\b`), "mta.tempfail", "mta.defer"},
	{regexp.MustCompile(`\bregex\.replace\b`), "regex.replace", "regex.gsub"},
	{regexp.MustCompile(`\.client_addr\b`), "s.client_addr", "s.client.addr"},
	{regexp.MustCompile(`\.client_name\b`), "s.client_name", "s.client.name"},
	{regexp.MustCompile(`\.queue_id\b`), "ev.queue_id", "ev.id"},
	{regexp.MustCompile(`:reject\s*\(`), "msg:reject()", "return mta.reject()"},
	{regexp.MustCompile(`:hold\s*\(`), "msg:hold()", "return mta.hold()"},
	{regexp.MustCompile(`:discard\s*\(`), "msg:discard()", "return mta.discard()"},
}

// Deprecated returns a warning "file:line: OLD is deprecated; use NEW"
// for each use of an old name in the scripts of fsys (the *.lua files
// the engine loads, not the tests). It reads the source text, so a
// name inside a string is reported too, and one after "--" on its line
// is not.
func Deprecated(fsys fs.FS) ([]string, error) {
	names, err := fs.Glob(fsys, "*.lua")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		if strings.HasSuffix(name, "_test.lua") {
			continue
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, deprecatedIn(name, string(src))...)
	}
	return out, nil
}

func deprecatedIn(name, src string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "--")
		for _, d := range deprecations {
			if d.re.MatchString(line) {
				out = append(out, fmt.Sprintf("%s:%d: %s is deprecated; use %s", name, n, d.old, d.use))
			}
		}
	}
	return out
}

// authUserNames are the first-parameter names that mark an "auth"
// handler written for the old argument order (user, pass, s). The order
// is now the session first, as in every SMTP-phase hook; for one release
// such a handler is still called the old way, and moonpost check (and
// the load log) names it. A handler whose first parameter is named
// anything else (s, session, _) gets the new order.
var authUserNames = map[string]bool{"user": true, "username": true, "login": true, "u": true, "name": true}

// authOldOrder reports an "auth" handler written for (user, pass, s).
func authOldOrder(fn *lua.LFunction) bool {
	p := fn.Proto
	if p == nil || p.NumParameters == 0 || len(p.DbgLocals) == 0 {
		return false
	}
	return authUserNames[p.DbgLocals[0].Name]
}

// oldOrderWarnings names the handlers authOldOrder found.
func oldOrderWarnings(handlers map[string][]handler) []string {
	var out []string
	for _, h := range handlers["auth"] {
		if h.lastFirst {
			out = append(out, h.where+": auth handler takes (user, pass, s), the old order, which works in this release only; use (s, user, pass)")
		}
	}
	return out
}
