package mtasts

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moonpost/moonpost/core/internal/durable"
)

// maxStored bounds the policies read back at start-up.
const maxStored = 100000

// fileName is domain's file in Dir, or "" for a name that is not a
// plain host name (nothing outside Dir is ever touched).
func (c *Cache) fileName(domain string) string {
	if !validHost(domain) || strings.HasPrefix(domain, ".") {
		return ""
	}
	return filepath.Join(c.Dir, domain)
}

// save writes e as domain's file: temp file, fsync, rename, fsync the
// directory. It runs outside the lock, one fetch per domain at a time.
func (c *Cache) save(domain string, e *entry) error {
	name := c.fileName(domain)
	if c.Dir == "" || name == "" {
		return nil
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return durable.WriteFile(c.Dir, name, data)
}

// remove drops an expired policy's file; the caller holds mu.
func (c *Cache) remove(domain string) {
	if name := c.fileName(domain); c.Dir != "" && name != "" {
		_ = os.Remove(name)
	}
}

// load reads the stored policies; one that does not parse or has
// expired is removed and logged, the others go back in force.
func (c *Cache) load() {
	ents, err := os.ReadDir(c.Dir)
	if err != nil {
		if !os.IsNotExist(err) {
			c.Logger.Warn("mta-sts: cannot read the policy cache", "dir", c.Dir, "err", err)
		}
		return
	}
	now := c.Clock.Now()
	for i, de := range ents {
		if i >= maxStored {
			break
		}
		domain := de.Name()
		if strings.HasPrefix(domain, ".") || !de.Type().IsRegular() {
			continue
		}
		e, err := c.read(domain)
		if err == nil && !now.Before(e.Expires) {
			err = fmt.Errorf("expired at %s", e.Expires.Format("2006-01-02T15:04:05Z07:00"))
		}
		if err != nil {
			c.Logger.Info("mta-sts: dropping stored policy", "domain", domain, "err", err)
			c.remove(domain)
			continue
		}
		c.policies[domain] = e
	}
}

func (c *Cache) read(domain string) (*entry, error) {
	name := c.fileName(domain)
	if name == "" {
		return nil, fmt.Errorf("not a domain name")
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var e entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	if !validID(e.ID) {
		return nil, fmt.Errorf("bad policy id %q", e.ID)
	}
	if e.policy, err = ParsePolicy([]byte(e.Body)); err != nil {
		return nil, err
	}
	return &e, nil
}
