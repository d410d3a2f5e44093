// Package auth is moonpost's message authentication: DKIM signing of mail
// that originates here, and SPF, DKIM and DMARC checks of mail that comes
// in, summed up in one Authentication-Results header (RFC 8601).
//
// Signing (Signer) runs once in cleanup, after the cleanup policy and
// before the queue commit, so every header change a script makes is
// covered and every delivery attempt sends the same signed bytes. Keys
// come from the [[dkim.sign]] table (Keyring) or from a script
// (msg:dkim_sign); they are PEM files (PKCS#8 RSA or Ed25519, PKCS#1 RSA)
// read once and read again when the file changes (Keyring.Watch, and a
// stat on use); a key that stops parsing is logged and the previous one
// stays in force.
//
// Verification (Verifier) runs in cleanup before the cleanup policy, so
// scripts see the results (msg.auth). Every DNS question goes through
// the daemon's resolver (core/dns) and its cache, bounded in count per
// message and in time; a lookup that times out is a temperror, never a
// fail. DKIM and SPF come from emersion/go-msgauth and blitiri.com.ar/go/
// spf; DMARC alignment and policy evaluation (dmarc.go), ARC chain
// validation (arc.go, canon.go) and ARC sealing of forwarded mail
// (arcseal.go) are written here.
//
// How it fails: a signing error (a key that cannot sign) is a temporary
// failure of the submission (451 4.3.0), never unsigned mail sent as if
// signed; a verification error is a result (temperror, permerror), never
// a rejection by itself: what to do with it is policy.
package auth
