package auth

import (
	"bufio"
	"io"
)

type bufioR = bufio.Reader

func newBufioR(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

func configEntry(domain, selector, key string) KeySpec {
	return KeySpec{Domain: domain, Selector: selector, Key: key}
}
