//go:build !cgo || !linux

package osslrsa

import "crypto/rsa"

// Off is the environment variable that keeps every RSA signature in
// Go's crypto/rsa (here they always are).
const Off = "MOONPOST_RSA_GO"

type osslKey struct{}

func loadKey(*rsa.PrivateKey) *osslKey { return nil }

func (*osslKey) signSHA256([]byte, int) ([]byte, bool) { return nil, false }

func library() string { return "Go crypto/rsa (built without cgo)" }
