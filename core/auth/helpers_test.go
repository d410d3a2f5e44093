package auth

import (
	"bufio"
	"io"

	"github.com/moonpost/moonpost/core/config"
)

type bufioR = bufio.Reader

func newBufioR(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

func configEntry(domain, selector, key string) config.DKIMSign {
	return config.DKIMSign{Domain: domain, Selector: selector, Key: key}
}
