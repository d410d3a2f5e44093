package auth

import (
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// KeySpec is one signing key as configured ([[dkim.sign]], which
// core/config declares as this type): a From domain, or "*" with KeyDir
// for every domain that has a key file KEY_DIR/<domain>/<selector>.pem.
type KeySpec struct {
	Domain   string `toml:"domain"`
	Selector string `toml:"selector"` // s=
	Key      string `toml:"key"`      // PEM private key file
	KeyDir   string `toml:"key_dir"`  // with domain = "*"
}

// recheck is how often a key file is stat'ed for changes at most: a
// changed key takes effect within this time, without a watcher.
const recheck = time.Second

// Keyring holds the signing keys of the [[dkim.sign]] table and any key
// file a script names. Each file is parsed once and parsed again when
// its size or modification time changes; a file that no longer parses is
// logged and its previous key stays in force. Safe for concurrent use.
type Keyring struct {
	entries []KeySpec
	log     *slog.Logger
	now     func() time.Time

	mu    sync.Mutex
	files map[string]*keyFile // by path
}

// keyFile is one cached key file.
type keyFile struct {
	signer  crypto.Signer // the last key that parsed; nil if none ever did
	size    int64         // the stat that signer was read at
	mod     time.Time
	checked time.Time // last stat
	err     error     // the current file's problem, logged once
}

// NewKeyring loads every key the table names (for domain "*", every
// KEY_DIR/<domain>/<selector>.pem present). All bad keys are reported
// together; the keyring is returned anyway with the good ones.
func NewKeyring(entries []KeySpec, log *slog.Logger) (*Keyring, error) {
	if log == nil {
		log = slog.Default()
	}
	// Quiet while loading: the caller reports the joined error.
	k := &Keyring{entries: entries, log: slog.New(slog.DiscardHandler), now: time.Now, files: map[string]*keyFile{}}
	defer func() { k.log = log }()
	var errs []error
	for _, e := range entries {
		for _, path := range k.entryFiles(e) {
			if _, err := k.load(path, true); err != nil {
				errs = append(errs, fmt.Errorf("dkim key for %s (selector %s): %w", e.Domain, e.Selector, err))
			}
		}
	}
	return k, errors.Join(errs...)
}

// entryFiles lists the key files of one entry: its key, or the files of
// its key_dir.
func (k *Keyring) entryFiles(e KeySpec) []string {
	if e.Domain != "*" {
		return []string{e.Key}
	}
	paths, _ := filepath.Glob(filepath.Join(e.KeyDir, "*", e.Selector+".pem"))
	return paths
}

// Keys returns the keys the table has for a From domain: every entry
// naming the domain, or, when none does, the wildcard entries whose
// key_dir has a file for it. selector "" matches any.
func (k *Keyring) Keys(domain, selector string) ([]*Key, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if !validDomain(domain) {
		return nil, nil
	}
	keys, err := k.match(domain, selector, false)
	if len(keys) == 0 && err == nil {
		keys, err = k.match(domain, selector, true)
	}
	return keys, err
}

func (k *Keyring) match(domain, selector string, wild bool) ([]*Key, error) {
	var keys []*Key
	for _, e := range k.entries {
		if (e.Domain == "*") != wild || !wild && e.Domain != domain || selector != "" && e.Selector != selector {
			continue
		}
		path := e.Key
		if wild {
			path = filepath.Join(e.KeyDir, domain, e.Selector+".pem")
		}
		s, err := k.load(path, !wild)
		if err != nil {
			return nil, fmt.Errorf("dkim key for %s (selector %s): %w", domain, e.Selector, err)
		}
		if s != nil {
			keys = append(keys, &Key{Domain: domain, Selector: e.Selector, Path: path, Signer: s})
		}
	}
	return keys, nil
}

// KeyFile returns the key in path (a file a script names), through the
// same cache.
func (k *Keyring) KeyFile(path string) (crypto.Signer, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("key %q: need an absolute path", path)
	}
	return k.load(path, true)
}

// load returns the key in path, reading the file again when it changed.
// A missing file is an error when required, else (a wildcard directory
// without this domain) nil, nil.
func (k *Keyring) load(path string, required bool) (crypto.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f := k.files[path]
	now := k.now()
	if f != nil && now.Sub(f.checked) < recheck {
		return f.current()
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) && !required && (f == nil || f.signer == nil) {
		return nil, nil
	}
	if f == nil {
		f = &keyFile{}
		k.files[path] = f
	}
	f.checked = now
	if err == nil && f.signer != nil && st.Size() == f.size && st.ModTime().Equal(f.mod) {
		return f.current()
	}
	k.read(path, f, st, err)
	return f.current()
}

// read parses the changed file into f; on failure the old key stays.
func (k *Keyring) read(path string, f *keyFile, st fs.FileInfo, statErr error) {
	var s crypto.Signer
	err := statErr
	if err == nil {
		s, err = LoadKeyFile(path)
	}
	if err != nil {
		if f.err == nil || f.err.Error() != err.Error() {
			if f.signer != nil {
				k.log.Error("dkim: key file changed and does not load; the previous key stays", "path", path, "err", err)
			} else {
				k.log.Error("dkim: key file does not load", "path", path, "err", err)
			}
		}
		f.err = err
		return
	}
	if f.signer != nil {
		k.log.Info("dkim: key reloaded", "path", path)
	}
	f.signer, f.size, f.mod, f.err = s, st.Size(), st.ModTime(), nil
}

func (f *keyFile) current() (crypto.Signer, error) {
	if f.signer != nil {
		return f.signer, nil
	}
	return nil, f.err
}

// validDomain accepts a DNS name made of LDH labels (and "_"): what can
// safely be a d= and a path element under a key directory.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
