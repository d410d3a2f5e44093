package app

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/auth"
	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/dns"
)

// dkimCmd is "moonpost dkim keygen|check".
func dkimCmd(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, dkimUsage)
		return exUsage
	}
	switch args[0] {
	case "keygen":
		return dkimKeygen(args[1:], os.Stdout)
	case "check":
		return dkimCheck(args[1:], os.Stdout)
	}
	fmt.Fprintln(os.Stderr, dkimUsage)
	return exUsage
}

const dkimUsage = `usage:
  moonpost dkim keygen DOMAIN SELECTOR [--type rsa|ed25519] [--bits N] [--out FILE]
  moonpost dkim check [-c file] DOMAIN SELECTOR [--key FILE]`

// splitArgs separates flags from the two positional arguments, which may
// come first or last.
func splitArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}
	if len(pos) != 2 {
		return nil, errors.New("need DOMAIN and SELECTOR")
	}
	return pos, nil
}

// dkimKeygen writes a new key (0600, never over an existing file) and
// prints the record to publish and the [[dkim.sign]] table to add.
func dkimKeygen(args []string, out io.Writer) int {
	fs := flag.NewFlagSet("dkim keygen", flag.ContinueOnError)
	typ := fs.String("type", "rsa", "rsa or ed25519")
	bits := fs.Int("bits", 2048, "RSA key size")
	file := fs.String("out", "", "key file (default DOMAIN.SELECTOR.pem)")
	pos, err := splitArgs(fs, args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "moonpost dkim keygen: %v\n%s\n", err, dkimUsage)
		return exUsage
	}
	domain, selector := strings.ToLower(strings.TrimSuffix(pos[0], ".")), pos[1]
	if *file == "" {
		*file = domain + "." + selector + ".pem"
	}
	key, pem, err := auth.GenerateKey(*typ, *bits)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost dkim keygen:", err)
		return exUsage
	}
	if err := writeNew(*file, pem); err != nil {
		fmt.Fprintln(os.Stderr, "moonpost dkim keygen:", err)
		return exIOErr
	}
	rec, _ := auth.PublicRecord(key.Public())
	fmt.Fprintf(out, "wrote %s\n\npublish this DNS record:\n%s._domainkey.%s. IN TXT %s\n\nand add to moonpost.toml:\n", *file, selector, domain, zoneStrings(rec))
	fmt.Fprintf(out, "[[dkim.sign]]\ndomain = %q\nselector = %q\nkey = %q\n", domain, selector, absPath(*file))
	return exOK
}

func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// zoneStrings writes a TXT value as zone-file strings of at most 255
// bytes each (RFC 1035 character-strings), in parentheses when split.
func zoneStrings(rec string) string {
	var parts []string
	for len(rec) > 255 {
		parts, rec = append(parts, rec[:255]), rec[255:]
	}
	parts = append(parts, rec)
	for i, p := range parts {
		parts[i] = `"` + p + `"`
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "( " + strings.Join(parts, "\n\t") + " )"
}

// dkimCheck looks up SELECTOR._domainkey.DOMAIN through the configured
// resolver and compares it with the key: --key FILE, or the configured
// [[dkim.sign]] key of DOMAIN and SELECTOR. Exit 0 on a match, 65 when
// the record differs or is missing, 75 when DNS fails.
func dkimCheck(args []string, out io.Writer) int {
	cfgPath, args, err := configFlag(args)
	fs := flag.NewFlagSet("dkim check", flag.ContinueOnError)
	keyFile := fs.String("key", "", "key file (default: the configured key)")
	var pos []string
	if err == nil {
		pos, err = splitArgs(fs, args)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "moonpost dkim check: %v\n%s\n", err, dkimUsage)
		return exUsage
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost:", err)
		return exConfig
	}
	domain, selector := strings.ToLower(strings.TrimSuffix(pos[0], ".")), pos[1]
	key, err := checkKey(cfg, domain, selector, *keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "moonpost dkim check:", err)
		return exConfig
	}
	return compareRecord(cfg, domain, selector, key, out)
}

func checkKey(cfg *config.Config, domain, selector, file string) (crypto.Signer, error) {
	if file != "" {
		return auth.LoadKeyFile(file)
	}
	kr, err := auth.NewKeyring(cfg.DKIM.Sign, nil)
	if err != nil {
		return nil, err
	}
	keys, err := kr.Keys(domain, selector)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no [[dkim.sign]] key for %s selector %s (or give --key FILE)", domain, selector)
	}
	return keys[0].Signer, nil
}

func compareRecord(cfg *config.Config, domain, selector string, key crypto.Signer, out io.Writer) int {
	name := selector + "._domainkey." + domain
	res := dns.New(dns.Config{Servers: cfg.DNS.Servers, Timeout: cfg.DNS.Timeout.D(), CacheSize: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	txts, err := res.LookupTXT(ctx, name)
	if err != nil {
		fmt.Fprintf(out, "%s: lookup failed: %v\n", name, err)
		if dns.IsNotFound(err) {
			return exDataErr
		}
		return exTempFail
	}
	want, _ := auth.PublicRecord(key.Public())
	var problems []string
	for _, txt := range txts {
		if err := auth.MatchRecord(txt, key.Public()); err == nil {
			fmt.Fprintf(out, "%s: OK, the published record matches the key (%s)\n", name, strings.TrimSuffix(algoName(key), "-sha256"))
			return exOK
		} else {
			problems = append(problems, err.Error())
		}
	}
	if len(txts) == 0 {
		problems = append(problems, "no TXT record")
	}
	fmt.Fprintf(out, "%s: MISMATCH: %s\npublish instead:\n%s. IN TXT %s\n", name, strings.Join(problems, "; "), name, zoneStrings(want))
	return exDataErr
}

func algoName(k crypto.Signer) string { return (&auth.Key{Signer: k}).Algorithm() }
