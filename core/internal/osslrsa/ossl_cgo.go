//go:build cgo && linux

package osslrsa

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

// The few libcrypto 3 entry points used, resolved with dlsym. The types
// are opaque here; no OpenSSL header is needed to build.
static void *(*mp_d2i_AutoPrivateKey)(void **, const unsigned char **, long);
static void (*mp_EVP_PKEY_free)(void *);
static void *(*mp_EVP_PKEY_CTX_new)(void *, void *);
static void (*mp_EVP_PKEY_CTX_free)(void *);
static int (*mp_EVP_PKEY_sign_init)(void *);
static int (*mp_EVP_PKEY_CTX_set_rsa_padding)(void *, int);
static int (*mp_EVP_PKEY_CTX_set_signature_md)(void *, const void *);
static const void *(*mp_EVP_sha256)(void);
static int (*mp_EVP_PKEY_sign)(void *, unsigned char *, size_t *, const unsigned char *, size_t);
static void (*mp_ERR_clear_error)(void);
static const char *(*mp_OpenSSL_version)(int);

static const char *mp_missing;

#define MP_SYM(name) \
	do { \
		*(void **)(&mp_##name) = dlsym(h, #name); \
		if (mp_##name == NULL) { mp_missing = #name; return -2; } \
	} while (0)

// mp_load opens libcrypto.so.3: 0 on success, -1 if it cannot be
// opened, -2 if a symbol is missing (mp_missing names it).
static int mp_load(void) {
	void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		return -1;
	}
	MP_SYM(d2i_AutoPrivateKey);
	MP_SYM(EVP_PKEY_free);
	MP_SYM(EVP_PKEY_CTX_new);
	MP_SYM(EVP_PKEY_CTX_free);
	MP_SYM(EVP_PKEY_sign_init);
	MP_SYM(EVP_PKEY_CTX_set_rsa_padding);
	MP_SYM(EVP_PKEY_CTX_set_signature_md);
	MP_SYM(EVP_sha256);
	MP_SYM(EVP_PKEY_sign);
	MP_SYM(ERR_clear_error);
	MP_SYM(OpenSSL_version);
	return 0;
}

static const char *mp_version(void) { return mp_OpenSSL_version(0); }
static const char *mp_missing_symbol(void) { return mp_missing; }

// mp_key parses a DER private key (PKCS #1 or PKCS #8) and wipes the
// buffer it was given.
static void *mp_key(unsigned char *der, long n) {
	const unsigned char *p = der;
	void *k = mp_d2i_AutoPrivateKey(NULL, &p, n);
	memset(der, 0, (size_t)n);
	if (k == NULL) {
		mp_ERR_clear_error();
	}
	return k;
}

static void mp_key_free(void *k) { mp_EVP_PKEY_free(k); }

#define MP_RSA_PKCS1_PADDING 1

// mp_sign makes a PKCS #1 v1.5 signature of a SHA-256 digest: 0 on
// success with *siglen set, -1 on any failure (the error queue is
// cleared so it does not grow on this thread).
static int mp_sign(void *k, unsigned char *sig, size_t *siglen, const unsigned char *md, size_t mdlen) {
	void *ctx = mp_EVP_PKEY_CTX_new(k, NULL);
	if (ctx == NULL) {
		mp_ERR_clear_error();
		return -1;
	}
	int ok = mp_EVP_PKEY_sign_init(ctx) == 1 &&
		mp_EVP_PKEY_CTX_set_rsa_padding(ctx, MP_RSA_PKCS1_PADDING) > 0 &&
		mp_EVP_PKEY_CTX_set_signature_md(ctx, mp_EVP_sha256()) > 0 &&
		mp_EVP_PKEY_sign(ctx, sig, siglen, md, mdlen) == 1;
	mp_EVP_PKEY_CTX_free(ctx);
	if (!ok) {
		mp_ERR_clear_error();
		return -1;
	}
	return 0;
}
*/
import "C"

import (
	"crypto/rsa"
	"crypto/x509"
	"os"
	"runtime"
	"sync"
	"unsafe"
)

var (
	loadOnce sync.Once
	loaded   bool
	why      string // why libcrypto is not used, or its version
)

func load() bool {
	loadOnce.Do(func() {
		if _, set := os.LookupEnv(Off); set {
			why = Off + " is set"
			return
		}
		switch C.mp_load() {
		case 0:
			loaded = true
			why = C.GoString(C.mp_version())
		case -1:
			why = "libcrypto.so.3 not found"
		default:
			why = "libcrypto.so.3 lacks " + C.GoString(C.mp_missing_symbol())
		}
	})
	return loaded
}

func library() string {
	if load() {
		return why
	}
	return "Go crypto/rsa (" + why + ")"
}

// osslKey is libcrypto's copy of a private key, freed with the Signer.
type osslKey struct {
	p unsafe.Pointer // EVP_PKEY *
}

func loadKey(key *rsa.PrivateKey) *osslKey {
	if !load() {
		return nil
	}
	der := x509.MarshalPKCS1PrivateKey(key)
	buf := C.CBytes(der)
	clear(der)
	p := C.mp_key((*C.uchar)(buf), C.long(len(der)))
	C.free(buf)
	if p == nil {
		return nil
	}
	k := &osslKey{p: p}
	runtime.AddCleanup(k, func(p unsafe.Pointer) { C.mp_key_free(p) }, p)
	return k
}

func (k *osslKey) signSHA256(digest []byte, size int) ([]byte, bool) {
	sig := make([]byte, size)
	n := C.size_t(size)
	rc := C.mp_sign(k.p, (*C.uchar)(unsafe.Pointer(&sig[0])), &n, (*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)))
	runtime.KeepAlive(k)
	if rc != 0 || int(n) != size {
		return nil, false
	}
	return sig, true
}
