package auth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/dns/dnstest"
)

// dkimpyVerify is a dkimpy verifier that asks the test DNS server, through
// dnspython, instead of the system resolver: dkimverify has no option
// for a server, so this is dkimverify with its dnsfunc replaced. It
// prints one line per signature, "pass" or "fail".
const dkimpyVerify = `
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ['127.0.0.1']
r.port = int(sys.argv[1])
def txt(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    try:
        a = r.resolve(name, 'TXT', lifetime=timeout)
    except Exception:
        return None
    return b''.join(a[0].strings)
msg = sys.stdin.buffer.read()
d = dkim.DKIM(msg)
n = sum(1 for k, v in d.headers if k.lower() == b'dkim-signature')
for i in range(n):
    try:
        ok = d.verify(idx=i, dnsfunc=txt)
    except dkim.DKIMException as e:
        print(e, file=sys.stderr)
        ok = False
    print('pass' if ok else 'fail')
`

const python = "/usr/bin/python3"

// needDkimpy skips, loudly, when Debian's python3-dkim is missing.
func needDkimpy(t *testing.T) {
	t.Helper()
	if err := exec.Command(python, "-c", "import dkim, dns.resolver, nacl").Run(); err != nil {
		t.Skip("SKIP: dkimpy (python3-dkim, python3-dnspython, python3-nacl) is not installed; run .ci/install-deps")
	}
}

// zoneTXT is a TXT record in zone syntax, split in 255-byte strings.
func zoneTXT(name, value string) string {
	var parts []string
	for len(value) > 255 {
		parts, value = append(parts, `"`+value[:255]+`"`), value[255:]
	}
	parts = append(parts, `"`+value+`"`)
	return name + ". 300 IN TXT " + strings.Join(parts, " ")
}

func TestDkimpyVerifiesOurSignatures(t *testing.T) {
	needDkimpy(t)
	ns := dnstest.NewServer(t)
	rsaKey, _, _ := GenerateKey("rsa", 2048)
	edKey, _, _ := GenerateKey("ed25519", 0)
	keys := []*Key{{Domain: "football.example.com", Selector: "rsa", Signer: rsaKey},
		{Domain: "football.example.com", Selector: "ed", Signer: edKey}}
	ns.Add(t, zoneTXT("rsa._domainkey.football.example.com", record(t, rsaKey)),
		zoneTXT("ed._domainkey.football.example.com", record(t, edKey)))
	msg := signed(t, &Signer{}, keys)

	got := runDkimpy(t, ns.Addr, msg)
	if got != "pass\npass" {
		t.Fatalf("dkimpy says %q for\n%s", got, msg)
	}
	// The check is real: a changed body fails with dkimpy too.
	if got := runDkimpy(t, ns.Addr, strings.Replace(msg, "hungry", "angry", 1)); got != "fail\nfail" {
		t.Fatalf("dkimpy on a tampered message: %q", got)
	}
}

func runDkimpy(t *testing.T, addr, msg string) string {
	t.Helper()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	cmd := exec.CommandContext(context.Background(), python, "-c", dkimpyVerify, port)
	cmd.Stdin = strings.NewReader(msg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// dkimpySign signs msg with dkimsign (the dkimpy command) and returns
// the signed message.
func dkimpySign(t *testing.T, msg, selector, domain, keyFile, alg string) string {
	t.Helper()
	cmd := exec.Command("dkimsign", "--hcanon", "relaxed", "--bcanon", "relaxed", "--signalg", alg, selector, domain, keyFile)
	cmd.Stdin = strings.NewReader(msg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dkimsign: %v\n%s", err, stderr.String())
	}
	return string(out)
}

func writeFile(t *testing.T, name string, data []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWeVerifyDkimpySignatures(t *testing.T) {
	needDkimpy(t)
	f := newFixture(t, "v=DMARC1; p=reject")
	rsaKey, _, _ := GenerateKey("rsa", 2048)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey))})
	f.ns.Add(t, zoneTXT("py._domainkey.football.example.com", record(t, rsaKey)))
	edFile := writeFile(t, "ed.key", []byte(rfc8463Seed+"\n")) // dkimpy reads the base64 seed
	rsaFile := writeFile(t, "rsa.pem", pkcs1)
	msg := exampleHeader + "\r\n" + exampleBody
	for _, c := range []struct{ sel, file, alg string }{{"py", rsaFile, "rsa-sha256"}, {"brisbane", edFile, "ed25519-sha256"}} {
		out := dkimpySign(t, msg, c.sel, "football.example.com", c.file, c.alg)
		out = strings.ReplaceAll(strings.ReplaceAll(out, "\r\n", "\n"), "\n", "\r\n")
		res, _ := f.check(t, "203.0.113.9", "joe@football.example.com", out)
		if len(res.DKIM) != 1 || res.DKIM[0].Result != "pass" || res.DKIM[0].Selector != c.sel || res.DMARC.Result != "pass" {
			t.Fatalf("%s: %+v\n%s", c.alg, res, out)
		}
		res, _ = f.check(t, "203.0.113.9", "joe@football.example.com", strings.Replace(out, "hungry", "angry", 1))
		if res.DKIM[0].Result != "fail" {
			t.Fatalf("%s tampered: %+v", c.alg, res)
		}
	}
}

// The RFC 8463 appendix A.3 message, signed by its authors with
// ed25519-sha256 and rsa-sha256 (the RSA key is RFC 6376's example and
// not published here): the ed25519 signature verifies as published.
func TestVerifyRFC8463Example(t *testing.T) {
	f := newFixture(t, "")
	msg := "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n" +
		" d=football.example.com; i=@football.example.com;\r\n" +
		" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n" +
		" subject : date : message-id : from : subject : date;\r\n" +
		" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n" +
		" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n" +
		" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n" +
		exampleHeader + "\r\n" + exampleBody
	res, _ := f.check(t, "203.0.113.9", "joe@football.example.com", msg)
	if len(res.DKIM) != 1 || res.DKIM[0].Result != "pass" || res.DKIM[0].Selector != "brisbane" {
		t.Fatalf("%+v", res)
	}
}

// opendkim-testmsg (OpenDKIM's library, no daemon) signs with rsa-sha1
// only: moonpost reads its signature and refuses the algorithm, as RFC
// 8301 requires, with permerror.
func TestOpenDKIMSignatureRSASHA1IsRefused(t *testing.T) {
	if _, err := exec.LookPath("opendkim-testmsg"); err != nil {
		t.Skip("SKIP: opendkim-testmsg (Debian opendkim-tools) is not installed; run .ci/install-deps")
	}
	f := newFixture(t, "")
	rsaKey, _, _ := GenerateKey("rsa", 2048)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey))})
	f.ns.Add(t, zoneTXT("od._domainkey.football.example.com", record(t, rsaKey)))
	cmd := exec.Command("opendkim-testmsg", "-C", "-d", "football.example.com", "-s", "od", "-k", writeFile(t, "od.pem", pkcs1), "-t", t.TempDir())
	cmd.Stdin = strings.NewReader(exampleHeader + "\r\n" + exampleBody)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("opendkim-testmsg: %v\n%s", err, out)
	}
	msg := strings.ReplaceAll(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n", "\r\n")
	if !strings.Contains(msg, "a=rsa-sha1") {
		t.Skipf("SKIP: this opendkim-testmsg signs with another algorithm:\n%s", msg)
	}
	res, _ := f.check(t, "203.0.113.9", "joe@football.example.com", msg)
	if len(res.DKIM) != 1 || res.DKIM[0].Result != "permerror" || res.DKIM[0].Selector != "od" || res.DKIM[0].Domain != "football.example.com" {
		t.Fatalf("%+v\n%s", res.DKIM, msg)
	}
}

// arcpySign adds an ARC set with dkimpy's arcsign (RSA only), sealing as
// srvID from the message's Authentication-Results for srvID.
func arcpySign(t *testing.T, msg, selector, domain, keyFile string) string {
	t.Helper()
	cmd := exec.Command("arcsign", selector, domain, keyFile, domain)
	cmd.Stdin = strings.NewReader(msg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 && !bytes.Contains(out, []byte("ARC-Seal")) {
		t.Fatalf("arcsign: %v\n%s", err, stderr.String())
	}
	return strings.ReplaceAll(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n", "\r\n")
}

// Two forwarders seal the message with dkimpy's arcsign; moonpost
// validates the chain, and a change anywhere breaks it.
func TestARCChainFromDkimpy(t *testing.T) {
	needDkimpy(t)
	if err := exec.Command(python, "-c", "import authres").Run(); err != nil {
		t.Skip("SKIP: python3-authres (needed by dkimpy's arcsign) is not installed; run .ci/install-deps")
	}
	f := newFixture(t, "")
	var files []string
	for _, d := range []string{"relay1.example", "relay2.example"} {
		k, _, _ := GenerateKey("rsa", 2048)
		pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.(*rsa.PrivateKey))})
		files = append(files, writeFile(t, d+".pem", pkcs1))
		f.ns.Add(t, zoneTXT("arc._domainkey."+d, record(t, k)))
	}
	msg := "Authentication-Results: relay1.example; spf=pass smtp.mailfrom=football.example.com\r\n" + exampleHeader + "\r\n" + exampleBody
	hop1 := arcpySign(t, msg, "arc", "relay1.example", files[0])
	hop2 := arcpySign(t, "Authentication-Results: relay2.example; arc=pass\r\n"+hop1, "arc", "relay2.example", files[1])

	for name, c := range map[string]struct{ msg, want string }{
		"one hop":              {hop1, "pass"},
		"two hops":             {hop2, "pass"},
		"no ARC":               {msg, "none"},
		"body changed":         {strings.Replace(hop2, "hungry", "angry", 1), "fail"},
		"old AAR forged":       {strings.Replace(hop2, "i=1; relay1.example; spf=pass", "i=1; relay1.example; spf=fail", 1), "fail"},
		"signed field changed": {strings.Replace(hop2, "Subject: Is dinner ready?", "Subject: Is lunch ready?", 1), "fail"},
		"set missing":          {dropField(hop2, "ARC-Seal: i=1"), "fail"},
	} {
		res, h := f.check(t, "192.0.2.9", "joe@football.example.com", c.msg)
		if res.ARC != c.want {
			t.Errorf("%s: arc=%s, want %s\n%s", name, res.ARC, c.want, c.msg)
		}
		if ar := h.Get("Authentication-Results"); c.want != "none" && !strings.Contains(ar, "arc="+c.want) {
			t.Errorf("%s: %s", name, ar)
		}
	}
}

// dropField removes the (folded) field that starts with prefix.
func dropField(msg, prefix string) string {
	i := strings.Index(msg, prefix)
	if i < 0 {
		return msg
	}
	j := i + strings.Index(msg[i:], "\r\n")
	for strings.HasPrefix(msg[j+2:], " ") || strings.HasPrefix(msg[j+2:], "\t") {
		j += 2 + strings.Index(msg[j+2:], "\r\n")
	}
	return msg[:i] + msg[j+2:]
}

// dkimpyARCVerify prints dkimpy's chain validation status.
const dkimpyARCVerify = `
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ['127.0.0.1']
r.port = int(sys.argv[1])
def txt(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    try:
        a = r.resolve(name, 'TXT', lifetime=timeout)
    except Exception:
        return None
    return b''.join(a[0].strings)
cv, results, reason = dkim.arc_verify(sys.stdin.buffer.read(), dnsfunc=txt)
print(cv.decode())
print(reason, file=sys.stderr)
`

// dkimpy validates the ARC chains moonpost seals (RSA: dkimpy's ARC
// verifier reads RSA keys only).
func TestDkimpyValidatesOurARCSeals(t *testing.T) {
	needDkimpy(t)
	if err := exec.Command(python, "-c", "import authres").Run(); err != nil {
		t.Skip("SKIP: python3-authres (needed by dkimpy's ARC code) is not installed; run .ci/install-deps")
	}
	f := newFixture(t, "")
	msg := "Authentication-Results: mx1.test; spf=pass smtp.mailfrom=football.example.com\r\n" + exampleHeader + "\r\n" + exampleBody
	hop1 := seal(t, sealer(t, f, "mx1.test", "rsa", "mx1.test"), msg)
	hop2 := seal(t, sealer(t, f, "mx2.test", "rsa", "mx2.test"), "Authentication-Results: mx2.test; arc=pass\r\n"+hop1)
	port := f.ns.Addr[strings.LastIndexByte(f.ns.Addr, ':')+1:]
	for name, c := range map[string]struct{ msg, want string }{
		"one hop": {hop1, "pass"}, "two hops": {hop2, "pass"}, "changed": {strings.Replace(hop2, "hungry", "angry", 1), "fail"},
	} {
		cmd := exec.Command(python, "-c", dkimpyARCVerify, port)
		cmd.Stdin = strings.NewReader(c.msg)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, stderr.String())
		}
		if got := strings.TrimSpace(string(out)); got != c.want {
			t.Errorf("%s: dkimpy says %s (%s)\n%s", name, got, strings.TrimSpace(stderr.String()), c.msg)
		}
	}
}
