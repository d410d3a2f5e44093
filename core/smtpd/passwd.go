package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PasswordFile is the default Authenticator: a file of "user:hash" lines,
// re-read whenever its modification time or size changes. Blank lines and
// lines starting with '#' are ignored.
//
// The hash format is "{PBKDF2-SHA256}iterations$salt$key", salt and key in
// unpadded standard base64, made by HashPassword (`moonpost passwd`). It is
// PBKDF2 rather than bcrypt or argon2 because the standard library has it
// and no new dependency is needed; 600000 iterations follow OWASP's 2023
// advice for PBKDF2-HMAC-SHA256.
type PasswordFile struct {
	Path string

	mu    sync.Mutex
	mtime time.Time
	size  int64
	users map[string]string // user -> hash
	// dummy is checked for unknown users so their answer takes as long as
	// a known user's and user names cannot be probed by timing; it uses
	// the work factor of the file's first entry.
	dummy string
}

// DefaultIterations is the PBKDF2 work factor HashPassword uses.
const DefaultIterations = 600000

const pbkdf2Scheme = "{PBKDF2-SHA256}"

// HashPassword returns the stored form of pass.
func HashPassword(pass string) (string, error) { return hashPassword(pass, DefaultIterations) }

func hashPassword(pass string, iter int) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, pass, salt, iter, 32)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("%s%d$%s$%s", pbkdf2Scheme, iter, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Authenticate checks user and pass against the file. An unreadable file
// or a malformed entry is an error (the client gets 454, try later), not
// a failed login.
func (p *PasswordFile) Authenticate(ctx context.Context, user, pass string) (bool, error) {
	users, dummy, err := p.load()
	if err != nil {
		return false, err
	}
	hash, known := users[user]
	if !known {
		_, _ = verifyPassword(dummy, pass)
		return false, nil
	}
	ok, err := verifyPassword(hash, pass)
	if err != nil {
		return false, fmt.Errorf("%s: user %q: %w", p.Path, user, err)
	}
	return ok, nil
}

// load returns the table, re-reading the file when it changed.
func (p *PasswordFile) load() (map[string]string, string, error) {
	fi, err := os.Stat(p.Path)
	if err != nil {
		return nil, "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users != nil && fi.ModTime().Equal(p.mtime) && fi.Size() == p.size {
		return p.users, p.dummy, nil
	}
	data, err := os.ReadFile(p.Path)
	if err != nil {
		return nil, "", err
	}
	iter := 0
	users := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, "", fmt.Errorf("%s:%d: want user:hash", p.Path, n)
		}
		users[user] = hash
		if iter == 0 {
			iter = iterations(hash)
		}
	}
	if iter == 0 {
		iter = DefaultIterations
	}
	dummy, err := hashPassword("", iter)
	if err != nil {
		return nil, "", err
	}
	p.users, p.dummy, p.mtime, p.size = users, dummy, fi.ModTime(), fi.Size()
	return users, dummy, nil
}

// iterations reads the work factor of a stored hash, 0 if unreadable.
func iterations(hash string) int {
	rest, _ := strings.CutPrefix(hash, pbkdf2Scheme)
	n, _ := strconv.Atoi(strings.SplitN(rest, "$", 2)[0])
	if n > 10_000_000 {
		return 0
	}
	return n
}

// verifyPassword compares in constant time.
func verifyPassword(stored, pass string) (bool, error) {
	rest, ok := strings.CutPrefix(stored, pbkdf2Scheme)
	if !ok {
		return false, errors.New("unknown password scheme")
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return false, errors.New("malformed password hash")
	}
	iter, err := strconv.Atoi(parts[0])
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[1])
	want, err2 := enc.DecodeString(parts[2])
	if err != nil || err1 != nil || err2 != nil || iter < 1 || iter > 10_000_000 || len(want) == 0 {
		return false, errors.New("malformed password hash")
	}
	got, err := pbkdf2.Key(sha256.New, pass, salt, iter, len(want))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
