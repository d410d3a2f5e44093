package lookup

import (
	"os/user"
	"strings"
)

// passwdTable answers from the system's account database, like
// Postfix's unix:passwd.byname: the key is a user name and the value is
// that name. The user this process runs as is always found, even
// without a passwd entry (a container's arbitrary uid), so a daemon
// started by an ordinary user takes that user's mail.
type passwdTable struct {
	self string // the running user's name, "" if unknown
}

func newPasswdTable() passwdTable {
	var self string
	if u, err := user.Current(); err == nil {
		self = strings.ToLower(u.Username)
	}
	return passwdTable{self: self}
}

// lookup is case-insensitive, as Postfix folds table keys; names that
// are not plain user names never reach the account database.
func (p passwdTable) lookup(key string) (any, bool) {
	key = strings.ToLower(key)
	if !plainUserName(key) {
		return nil, false
	}
	if key == p.self {
		return key, true
	}
	if _, err := user.Lookup(key); err != nil {
		return nil, false
	}
	return key, true
}

// plainUserName accepts the portable user-name set (POSIX: letters,
// digits, '.', '_', '-', not starting with '-') up to 64 octets, so an
// address's "v1%example.net" or "a:b" is never handed to getpwnam.
func plainUserName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Passwd returns the account-database table; it has no file, so it is
// never re-read and never fails.
func (r *Registry) Passwd() *Table {
	return &Table{kind: "passwd", data: newPasswdTable(), now: r.now}
}
