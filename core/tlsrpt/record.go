package tlsrpt

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Rua is where a domain wants its reports (RFC 8460 §3).
type Rua struct {
	Mailto []string // addresses, from mailto: URIs
	HTTPS  []string // https: URIs to POST to
}

// ParseRecord reads the TXT records at _smtp._tls.<domain>. Records
// that do not start with "v=TLSRPTv1" are not ours and are skipped;
// none left or more than one means the domain takes no reports. A
// record must name at least one usable rua URI.
func ParseRecord(txts []string) (Rua, error) {
	var mine []string
	for _, t := range txts {
		if v, _, _ := strings.Cut(t, ";"); strings.TrimRight(v, " \t") == "v=TLSRPTv1" {
			mine = append(mine, t)
		}
	}
	switch len(mine) {
	case 0:
		return Rua{}, errors.New("no v=TLSRPTv1 TXT record")
	case 1:
		return parseFields(mine[0])
	}
	return Rua{}, errors.New("more than one v=TLSRPTv1 TXT record")
}

func parseFields(rec string) (Rua, error) {
	var r Rua
	fields := strings.Split(rec, ";")
	seen := false
	for _, f := range fields[1:] {
		f = strings.Trim(f, " \t")
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return r, fmt.Errorf("record %q: bad field %q", rec, f)
		}
		if k != "rua" {
			continue // an extension
		}
		if seen {
			return r, fmt.Errorf("record %q: rua given twice", rec)
		}
		seen = true
		for _, u := range strings.Split(v, ",") {
			if err := r.add(strings.Trim(u, " \t")); err != nil {
				return r, fmt.Errorf("record %q: %w", rec, err)
			}
		}
	}
	if len(r.Mailto)+len(r.HTTPS) == 0 {
		return r, fmt.Errorf("record %q: no rua", rec)
	}
	return r, nil
}

// add takes one rua URI: mailto: with one address, or https: with a
// host. Other schemes are an error.
func (r *Rua) add(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("rua %q: %w", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "mailto":
		addr, err := url.PathUnescape(u.Opaque)
		if err != nil || !plainAddress(addr) {
			return fmt.Errorf("rua %q: not one mail address", raw)
		}
		r.Mailto = append(r.Mailto, addr)
	case "https":
		if u.Host == "" || u.User != nil {
			return fmt.Errorf("rua %q: bad https URI", raw)
		}
		r.HTTPS = append(r.HTTPS, u.String())
	default:
		return fmt.Errorf("rua %q: scheme must be mailto or https", raw)
	}
	return nil
}

// plainAddress accepts local@domain with printable ASCII and no
// characters that would break an envelope or a header.
func plainAddress(a string) bool {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 || len(a) > 254 {
		return false
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("<>(),;:\\\"[]", c) >= 0 {
			return false
		}
	}
	return !strings.Contains(a[at+1:], "@")
}
