package osslrsa

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

var keys = map[int]*rsa.PrivateKey{}

func testKey(t testing.TB, bits int) *rsa.PrivateKey {
	if k := keys[bits]; k != nil {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	keys[bits] = k
	return k
}

// needOpenSSL fails the test where libcrypto.so.3 is installed (the
// dynamic linker's cache lists it) but not used, and skips loudly where
// it cannot be: built without cgo, or no libcrypto.so.3 on the machine.
func needOpenSSL(t *testing.T, s *Signer) {
	t.Helper()
	if s.OpenSSL() {
		return
	}
	if strings.Contains(Library(), "without cgo") {
		t.Skipf("SKIP: %s: OpenSSL signing not built in", Library())
	}
	cache, _ := exec.Command("/sbin/ldconfig", "-p").Output()
	if !strings.Contains(string(cache), "libcrypto.so.3 ") {
		t.Skipf("SKIP: no libcrypto.so.3 on this machine (.ci/install-deps installs Debian's openssl): %s", Library())
	}
	t.Fatalf("libcrypto.so.3 is installed but not used: %s", Library())
}

// PKCS #1 v1.5 signatures are deterministic: OpenSSL's must be
// byte for byte Go's, for every key size DKIM uses.
func TestSameSignatureAsGo(t *testing.T) {
	for _, bits := range []int{1024, 2048, 3072, 4096} {
		k := testKey(t, bits)
		s := New(k)
		needOpenSSL(t, s)
		for i := range 20 {
			d := sha256.Sum256(fmt.Appendf(nil, "message %d of %d bits", i, bits))
			got, ok := s.ossl.signSHA256(d[:], k.Size())
			if !ok {
				t.Fatalf("%d bits: libcrypto did not sign", bits)
			}
			want, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%d bits, message %d: OpenSSL's signature differs from Go's", bits, i)
			}
		}
	}
}

// What OpenSSL is not asked for (SHA-1, PSS, a digest of the wrong
// length) goes to Go and still gives a valid result or Go's error.
func TestOtherOptionsGoToGo(t *testing.T) {
	k := testKey(t, 2048)
	s := New(k)
	d1 := sha1.Sum([]byte("x"))
	sig, err := s.Sign(rand.Reader, d1[:], crypto.SHA1)
	if err != nil || rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA1, d1[:], sig) != nil {
		t.Fatalf("SHA-1: %v", err)
	}
	d := sha256.Sum256([]byte("x"))
	pss := &rsa.PSSOptions{Hash: crypto.SHA256}
	sig, err = s.Sign(rand.Reader, d[:], pss)
	if err != nil || rsa.VerifyPSS(&k.PublicKey, crypto.SHA256, d[:], sig, pss) != nil {
		t.Fatalf("PSS: %v", err)
	}
	if _, err := s.Sign(rand.Reader, d[:5], crypto.SHA256); err == nil {
		t.Fatal("a 5-byte SHA-256 digest was signed")
	}
	if s.Public().(*rsa.PublicKey).N.Cmp(k.N) != 0 {
		t.Fatal("Public is not the key's")
	}
}

func TestConcurrentSigning(t *testing.T) {
	k := testKey(t, 2048)
	s := New(k)
	needOpenSSL(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				d := sha256.Sum256(fmt.Appendf(nil, "%d/%d", g, i))
				sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
				if err == nil {
					err = rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, d[:], sig)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// With MOONPOST_RSA_GO set, libcrypto is never opened.
func TestOffVariable(t *testing.T) {
	if os.Getenv("OSSLRSA_CHILD") != "" {
		if s := New(testKey(t, 1024)); s.OpenSSL() {
			t.Fatal("OpenSSL used with " + Off + " set")
		}
		fmt.Println("library:", Library())
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOffVariable$", "-test.v")
	cmd.Env = append(os.Environ(), "OSSLRSA_CHILD=1", Off+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "library: Go crypto/rsa") {
		t.Fatalf("child did not report Go:\n%s", out)
	}
}

// go test -run '^$' -bench . ./core/internal/osslrsa
func BenchmarkSign2048(b *testing.B) {
	k := testKey(b, 2048)
	d := sha256.Sum256([]byte("x"))
	for _, c := range []struct {
		name string
		s    crypto.Signer
	}{{"go", k}, {"openssl", New(k)}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
