// Package osslrsa signs with RSA private keys through the system's
// OpenSSL 3 libcrypto when the binary is built with cgo and
// libcrypto.so.3 can be loaded at run time, and through Go's crypto/rsa
// otherwise.
//
// Go's constant-time RSA takes three to four times as long as
// OpenSSL's for a 2048-bit private-key operation, and a DKIM signature
// per outbound message makes that the largest single cost of relaying
// signed mail (docs/performance.md, "DKIM signing"). OpenSSL's RSA is
// constant-time and blinded too. The library is opened with dlopen, so
// building needs no OpenSSL headers and a machine without libcrypto
// still runs, on Go's implementation.
//
// Every signature OpenSSL returns is verified with Go's crypto/rsa
// before it is used (as crypto/rsa itself verifies its own), so a fault
// or a mismatched library can cost time but never yield a bad
// signature: on any failure the Go implementation signs instead.
package osslrsa
