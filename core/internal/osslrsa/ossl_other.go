//go:build !cgo || !linux

package osslrsa

import "crypto/rsa"

type osslKey struct{}

func loadKey(*rsa.PrivateKey) *osslKey { return nil }

func (*osslKey) signSHA256([]byte, int) ([]byte, bool) { return nil, false }

func library() string { return "Go crypto/rsa (built without cgo)" }
