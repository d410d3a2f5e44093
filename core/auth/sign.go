package auth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// DefaultHeaders are the fields signed when present (RFC 6376 5.4.1 and
// common practice). From is signed once more than it occurs, so a From
// added later breaks the signature ("oversigning").
var DefaultHeaders = []string{
	"From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID",
	"In-Reply-To", "References", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "Content-ID", "Content-Description",
	"Content-Disposition", "Content-Language", "List-Id", "List-Help",
	"List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe",
	"List-Post", "List-Owner", "List-Archive", "Feedback-ID",
}

// Signer makes the DKIM signatures of a message in cleanup.
type Signer struct {
	Keys *Keyring
	// Networks are mynetworks: mail from these clients originates here.
	Networks []netip.Prefix
	// Headers overrides DefaultHeaders (dkim.headers).
	Headers []string
	// ARCDomain and ARCSelector name the [[dkim.sign]] key that seals
	// forwarded mail (dkim.arc_domain, dkim.arc_selector; "" for none);
	// AuthservID is ours, whose Authentication-Results the seal records.
	ARCDomain, ARCSelector, AuthservID string
}

// Originating reports whether mail with this envelope starts its journey
// here, and so is signed by default: a local submission (sendmail,
// bounces, forwards), an authenticated submission, or a client in
// mynetworks. Mail relayed for others passes unsigned unless a script
// asks for a signature.
func (s *Signer) Originating(env *queue.Envelope) bool {
	return IsOriginating(env, s.Networks)
}

// IsOriginating is Originating for a given mynetworks.
func IsOriginating(env *queue.Envelope, networks []netip.Prefix) bool {
	c := env.Client
	if c.Proto == "LOCAL" || c.AuthUser != "" {
		return true
	}
	ip, err := netip.ParseAddr(c.Addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range networks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Plan returns the keys to sign with: the policy's choice when it made
// one, else, for originating mail, the table's keys for the From domain.
func (s *Signer) Plan(env *queue.Envelope, h *textproto.Header, choice *policy.DKIMChoice) ([]*Key, error) {
	if choice != nil {
		return s.chosen(choice.Requests)
	}
	if s == nil || s.Keys == nil || !s.Originating(env) {
		return nil, nil
	}
	domain := FromDomain(h)
	if domain == "" {
		return nil, nil
	}
	return s.Keys.Keys(domain, "")
}

// chosen resolves a script's requests to keys; a request no key serves
// is an error (the script asked for something the host cannot do).
func (s *Signer) chosen(reqs []policy.SignRequest) ([]*Key, error) {
	var keys []*Key
	for _, r := range reqs {
		if r.Key != "" {
			if s.Keys == nil {
				return nil, fmt.Errorf("dkim_sign: no keyring")
			}
			k, err := s.Keys.KeyFile(r.Key)
			if err != nil {
				return nil, fmt.Errorf("dkim_sign %s: %w", r.Domain, err)
			}
			keys = append(keys, &Key{Domain: r.Domain, Selector: r.Selector, Path: r.Key, Signer: k})
			continue
		}
		var found []*Key
		var err error
		if s.Keys != nil {
			found, err = s.Keys.Keys(r.Domain, r.Selector)
		}
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("dkim_sign: no key configured for domain %q selector %q", r.Domain, r.Selector)
		}
		keys = append(keys, found...)
	}
	return keys, nil
}

// FromDomain is the domain of the (first) From address, lower case, ""
// when there is none that parses.
func FromDomain(h *textproto.Header) string {
	mh := mail.Header{Header: message.Header{Header: *h}}
	list, err := mh.AddressList("From")
	if err != nil || len(list) == 0 {
		return fallbackFromDomain(h.Get("From"))
	}
	return domainOf(list[0].Address)
}

// fallbackFromDomain finds "@domain" in a From that the strict address
// parser refused, so a sloppy From still gets signed and checked.
func fallbackFromDomain(v string) string {
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	return domainOf(strings.TrimSpace(v))
}

func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	d := strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
	if !validDomain(d) {
		return ""
	}
	return d
}

// Sign computes one DKIM-Signature field per key over the message whose
// header is h and whose content after the header is body. The fields
// come back in key order, each "DKIM-Signature: ...\r\n", to be added on
// top of h.
func (s *Signer) Sign(ctx context.Context, keys []*Key, h *textproto.Header, body io.Reader) ([]string, error) {
	var head bytes.Buffer
	if err := textproto.WriteHeader(&head, *h); err != nil {
		return nil, err
	}
	signers := make([]*dkim.Signer, 0, len(keys))
	writers := make([]io.Writer, 0, len(keys))
	defer func() {
		for _, sg := range signers {
			sg.Close()
		}
	}()
	hk := s.headerKeys(h)
	for _, k := range keys {
		sg, err := dkim.NewSigner(&dkim.SignOptions{Domain: k.Domain, Selector: k.Selector, Signer: k.Signer,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
			HeaderKeys: hk})
		if err != nil {
			return nil, fmt.Errorf("dkim %s/%s: %w", k.Domain, k.Selector, err)
		}
		signers, writers = append(signers, sg), append(writers, sg)
	}
	w := io.MultiWriter(writers...)
	if _, err := w.Write(head.Bytes()); err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, body); err != nil {
		return nil, err
	}
	sigs := make([]string, len(signers))
	for i, sg := range signers {
		if err := sg.Close(); err != nil {
			return nil, fmt.Errorf("dkim %s/%s: %w", keys[i].Domain, keys[i].Selector, err)
		}
		sigs[i] = sg.Signature()
	}
	signers = nil
	return sigs, ctx.Err()
}

// headerKeys lists the configured fields present in h, each as often as
// it occurs, then From once more.
func (s *Signer) headerKeys(h *textproto.Header) []string {
	names := DefaultHeaders
	if s != nil && len(s.Headers) > 0 {
		names = s.Headers
	}
	keys := []string{}
	seen := map[string]bool{}
	for _, n := range names {
		ln := strings.ToLower(n)
		if seen[ln] {
			continue
		}
		seen[ln] = true
		for range h.Values(n) {
			keys = append(keys, n)
		}
	}
	if !seen["from"] {
		for range h.Values("From") {
			keys = append(keys, "From")
		}
	}
	return append(keys, "From")
}
