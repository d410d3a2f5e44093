package queue

import (
	"fmt"
	"maps"
	"sort"
)

// Bounds on Envelope.Meta, so a script cannot grow a queue file (or the
// memory of every reader) without limit. A value fits one record with
// room to spare (maxRecordLen).
const (
	MaxMetaEntries  = 64
	MaxMetaKeyLen   = 128
	MaxMetaValueLen = 4096
)

// CheckMeta says whether meta may hold key set to value, given what it
// holds already: the key is 1 to MaxMetaKeyLen bytes of printable ASCII
// without spaces (so an address can be part of it); the value at most
// MaxMetaValueLen bytes; at most MaxMetaEntries keys in all.
func CheckMeta(meta map[string]string, key, value string) error {
	if key == "" || len(key) > MaxMetaKeyLen {
		return fmt.Errorf("meta key must be 1 to %d bytes long", MaxMetaKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c <= ' ' || c >= 0x7f {
			return fmt.Errorf("meta key %q: only printable ASCII without spaces is allowed", key)
		}
	}
	if len(value) > MaxMetaValueLen {
		return fmt.Errorf("meta %s: value longer than %d bytes", key, MaxMetaValueLen)
	}
	if _, ok := meta[key]; !ok && len(meta) >= MaxMetaEntries {
		return fmt.Errorf("meta %s: more than %d keys", key, MaxMetaEntries)
	}
	return nil
}

// CloneMeta copies meta; nil stays nil.
func CloneMeta(meta map[string]string) map[string]string { return maps.Clone(meta) }

// metaKeys returns meta's keys sorted, so a file's records come out in
// one order whatever the map's.
func metaKeys(meta map[string]string) []string {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// metaRecord decodes a "V key\tvalue" record into e.Meta.
func metaRecord(e *Envelope, f []string) error {
	if err := want('V', f, 2); err != nil {
		return err
	}
	if _, dup := e.Meta[f[0]]; dup {
		return fmt.Errorf("duplicate meta key %q", f[0])
	}
	if err := CheckMeta(e.Meta, f[0], f[1]); err != nil {
		return err
	}
	if e.Meta == nil {
		e.Meta = map[string]string{}
	}
	e.Meta[f[0]] = f[1]
	return nil
}
