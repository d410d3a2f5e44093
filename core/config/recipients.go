package config

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// Sources of local_recipient_maps that are not table files.
const (
	RecipientsPasswd  = "passwd"  // the system's account database
	RecipientsAliases = "aliases" // the local.aliases file
)

// finishLocalAccess completes the keys about local users: who may
// receive (local_recipient_maps) and who may submit (setgid_group).
func (c *Config) finishLocalAccess() error {
	if err := c.finishRecipientMaps(); err != nil {
		return err
	}
	if c.SetgidGroup != "" {
		if _, err := c.SetgidGID(); err != nil {
			return err
		}
	}
	return nil
}

// SetgidGID is setgid_group's group ID, -1 when none is configured.
func (c *Config) SetgidGID() (int, error) {
	if c.SetgidGroup == "" {
		return -1, nil
	}
	g, err := user.LookupGroup(c.SetgidGroup)
	if err != nil {
		return -1, fmt.Errorf("setgid_group: %w", err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return -1, fmt.Errorf("setgid_group: %q has gid %q", c.SetgidGroup, g.Gid)
	}
	return gid, nil
}

// finishRecipientMaps fills in the default sources and makes table
// paths absolute, since scripts resolve relative paths from their own
// folder. A table that cannot be read is a configuration error: a
// missing users file would otherwise refuse every user at RCPT.
func (c *Config) finishRecipientMaps() error {
	if c.LocalRecipientMaps == nil {
		c.LocalRecipientMaps = []string{RecipientsPasswd, RecipientsAliases}
	}
	for i, m := range c.LocalRecipientMaps {
		key := fmt.Sprintf("local_recipient_maps[%d]", i)
		switch m {
		case RecipientsPasswd, RecipientsAliases:
			continue
		case "":
			return fmt.Errorf("%s: empty entry (use [] to turn the check off)", key)
		}
		abs, err := filepath.Abs(m)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: %s is not a table file", key, abs)
		}
		c.LocalRecipientMaps[i] = abs
	}
	return nil
}

// RecipientTables returns the table files among local_recipient_maps.
func (c *Config) RecipientTables() []string {
	var out []string
	for _, m := range c.LocalRecipientMaps {
		if m != RecipientsPasswd && m != RecipientsAliases {
			out = append(out, m)
		}
	}
	return out
}
