package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/moonpost/moonpost/core/dns"
)

// MaxPolicySize bounds a policy body. Real policies are a few hundred
// bytes; 64 KiB is what other senders allow too.
const MaxPolicySize = 64 << 10

// The RFC 8460 result types of a policy that could not be had.
const (
	FetchFailed   = "sts-policy-fetch-error" // no answer, not 200, too big, too slow
	PolicyInvalid = "sts-policy-invalid"     // the body or its media type is wrong
	WebPKIInvalid = "sts-webpki-invalid"     // the HTTPS certificate does not verify
)

// Error is a policy that could not be fetched or parsed.
type Error struct {
	Domain string
	Type   string // FetchFailed, PolicyInvalid or WebPKIInvalid
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("mta-sts %s: %s: %v", e.Domain, e.Type, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Fetcher gets policies over HTTPS.
type Fetcher struct {
	// Resolver finds the addresses of mta-sts.<domain>; it is the
	// daemon's one resolver. Unused when Dial is set.
	Resolver dns.Resolver
	// Dial, when set, opens the TCP connections instead (tests point
	// the policy host at a loopback server).
	Dial DialFunc
	// RootCAs verify the policy host's certificate; nil: the system's.
	RootCAs *x509.CertPool
	// Timeout bounds the whole fetch, connect to last byte (default 10s;
	// a delivery waits for it).
	Timeout time.Duration

	client *http.Client
}

// Init builds the HTTP client; call it once before Fetch.
func (f *Fetcher) Init() {
	if f.Timeout <= 0 {
		f.Timeout = 10 * time.Second
	}
	dial := f.Dial
	if dial == nil {
		dial = f.resolverDial
	}
	tr := &http.Transport{
		DialContext:            dial,
		TLSClientConfig:        &tls.Config{RootCAs: f.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    f.Timeout,
		DisableKeepAlives:      true, // one fetch per domain per max_age: nothing to keep
		Proxy:                  nil,  // the policy host is reached directly
		MaxResponseHeaderBytes: 16 << 10,
	}
	f.client = &http.Client{Transport: tr, Timeout: f.Timeout,
		// RFC 8461 §3.3: redirects must not be followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// URL is where domain's policy lives.
func URL(domain string) string {
	return "https://mta-sts." + domain + "/.well-known/mta-sts.txt"
}

// Fetch gets and parses domain's policy. Every error is an *Error.
func (f *Fetcher) Fetch(ctx context.Context, domain string) (*Policy, error) {
	body, err := f.get(ctx, domain)
	if err != nil {
		return nil, err
	}
	p, err := ParsePolicy(body)
	if err != nil {
		return nil, &Error{domain, PolicyInvalid, err}
	}
	return p, nil
}

func (f *Fetcher) get(ctx context.Context, domain string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, URL(domain), nil)
	if err != nil {
		return nil, &Error{domain, FetchFailed, err}
	}
	req.Header.Set("Cache-Control", "no-cache") // RFC 8461 §3.3: no HTTP caching
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, &Error{domain, fetchErrorType(err), err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &Error{domain, FetchFailed, fmt.Errorf("HTTP status %s", resp.Status)}
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, &Error{domain, PolicyInvalid, fmt.Errorf("Content-Type %q, want text/plain", resp.Header.Get("Content-Type"))}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicySize+1))
	if err != nil {
		return nil, &Error{domain, FetchFailed, err}
	}
	if len(body) > MaxPolicySize {
		return nil, &Error{domain, FetchFailed, fmt.Errorf("policy larger than %d bytes", MaxPolicySize)}
	}
	return body, nil
}

// fetchErrorType tells a certificate that does not verify from the
// other failures of a request.
func fetchErrorType(err error) string {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
		ci x509.CertificateInvalidError
	)
	if errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) {
		return WebPKIInvalid
	}
	return FetchFailed
}

// resolverDial resolves the policy host through the daemon's resolver
// and tries its addresses in order.
func (f *Fetcher) resolverDial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := f.Resolver.LookupHost(ctx, host)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	var last error
	for _, ip := range ips {
		p, _ := strconv.Atoi(port)
		c, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(p)).String())
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}
