package mobileconfig_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/updates/mobileconfig"
)

const python = "/usr/bin/python3"

func peer(t *testing.T, path, what string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("GATEHOUSE_REQUIRE_PEERS") == "1" {
			t.Fatalf("required test peer missing: %s", what)
		}
		t.Skipf("test peer missing: %s", what)
	}
}

// checkPlist has Python's plistlib read the profile and checks every key a
// profile and its payloads must have; it returns the parsed summary.
const checkPlist = `
import json, plistlib, sys, uuid
p = plistlib.load(open(sys.argv[1], 'rb'))
errors = []
def need(d, keys, where):
    for k, typ in keys:
        if k not in d:
            errors.append('%s: missing %s' % (where, k))
        elif not isinstance(d[k], typ) or (typ is int and isinstance(d[k], bool)):
            errors.append('%s: %s is %r' % (where, k, type(d[k]).__name__))
need(p, [('PayloadContent', list), ('PayloadDisplayName', str), ('PayloadIdentifier', str), ('PayloadType', str),
         ('PayloadUUID', str), ('PayloadVersion', int), ('PayloadOrganization', str), ('PayloadScope', str)], 'profile')
if p.get('PayloadType') != 'Configuration': errors.append('profile PayloadType %r' % p.get('PayloadType'))
if p.get('PayloadVersion') != 1: errors.append('profile PayloadVersion')
uuids = [p['PayloadUUID']]
ids = [p['PayloadIdentifier']]
out = {'identifier': p['PayloadIdentifier'], 'uuids': [p['PayloadUUID']], 'types': [], 'activation': None, 'services': []}
for i, pl in enumerate(p.get('PayloadContent', [])):
    need(pl, [('PayloadType', str), ('PayloadIdentifier', str), ('PayloadUUID', str), ('PayloadVersion', int), ('PayloadDisplayName', str)], 'payload %d' % i)
    uuids.append(pl['PayloadUUID']); ids.append(pl['PayloadIdentifier'])
    out['types'].append(pl['PayloadType']); out['uuids'].append(pl['PayloadUUID'])
    if not pl['PayloadIdentifier'].startswith(p['PayloadIdentifier'] + '.'):
        errors.append('payload %d identifier %r not under the profile' % (i, pl['PayloadIdentifier']))
    if pl['PayloadType'] == 'com.parallels.desktop.console':
        out['activation'] = {'experience': pl.get('ActivationExperience'), 'key': pl.get('LicenseKey')}
    if pl['PayloadType'] == 'com.apple.TCC.configuration-profile-policy':
        for svc, entries in pl['Services'].items():
            out['services'].append(svc)
            for e in entries:
                need(e, [('Identifier', str), ('IdentifierType', str), ('CodeRequirement', str), ('Authorization', str), ('Allowed', bool), ('StaticCode', bool)], svc)
                if e['Identifier'] != 'com.parallels.desktop.console' or e['IdentifierType'] != 'bundleID' or e['Authorization'] != 'Allow' or e['Allowed'] is not True:
                    errors.append('%s entry %r' % (svc, e))
for u in uuids:
    try:
        if str(uuid.UUID(u)).upper() != u: errors.append('uuid %r not canonical upper case' % u)
    except ValueError:
        errors.append('bad uuid %r' % u)
if len(set(uuids)) != len(uuids): errors.append('duplicate PayloadUUIDs %r' % uuids)
if len(set(ids)) != len(ids): errors.append('duplicate PayloadIdentifiers %r' % ids)
if errors:
    print('\n'.join(errors)); sys.exit(1)
print(json.dumps(out))
`

type summary struct {
	Identifier string   `json:"identifier"`
	UUIDs      []string `json:"uuids"`
	Types      []string `json:"types"`
	Activation *struct {
		Experience string  `json:"experience"`
		Key        *string `json:"key"`
	} `json:"activation"`
	Services []string `json:"services"`
}

func parse(t *testing.T, profile []byte) summary {
	t.Helper()
	peer(t, python, python)
	p := filepath.Join(t.TempDir(), "p.mobileconfig")
	if err := os.WriteFile(p, profile, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", checkPlist, p).CombinedOutput()
	if err != nil {
		t.Fatalf("plistlib check: %v\n%s\n%s", err, out, profile)
	}
	var s summary
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func base() mobileconfig.Options {
	return mobileconfig.Options{IdentifierPrefix: "com.example.gatehouse", AccountID: "01a2-acct", AccountName: "Example & Sons <Ltd>",
		KeyID: "01a2-key", KeyLabel: "Design team (…CZMWGX)", Experience: mobileconfig.ExperienceSSO}
}

func TestProfiles(t *testing.T) {
	sso := base()
	key := base()
	key.Experience, key.LicenseKey = mobileconfig.ExperienceKey, "1PIXBW-31Q14L-Q3P808-27B2BF-CZMWGX"
	ssoPPPC := sso
	ssoPPPC.PPPC = true
	keyPPPC := key
	keyPPPC.PPPC = true

	seen := map[string]string{}
	for name, o := range map[string]mobileconfig.Options{"sso": sso, "key": key, "sso+pppc": ssoPPPC, "key+pppc": keyPPPC} {
		b, err := mobileconfig.Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		s := parse(t, b)
		if s.Identifier != "com.example.gatehouse.desktop-activation.01a2-acct.01a2-key" {
			t.Errorf("%s: identifier %q", name, s.Identifier)
		}
		wantTypes := 1
		if o.PPPC {
			wantTypes = 2
			if strings.Join(s.Services, ",") != "SystemPolicyDesktopFolder,SystemPolicyDocumentsFolder,SystemPolicyDownloadsFolder" {
				t.Errorf("%s: services %v", name, s.Services)
			}
		}
		if len(s.Types) != wantTypes || s.Activation == nil {
			t.Fatalf("%s: payloads %v", name, s.Types)
		}
		switch o.Experience {
		case mobileconfig.ExperienceSSO:
			if s.Activation.Experience != "SSO" || s.Activation.Key != nil {
				t.Errorf("%s: activation %+v", name, s.Activation)
			}
		case mobileconfig.ExperienceKey:
			if s.Activation.Experience != "LicenseKey" || s.Activation.Key == nil || *s.Activation.Key != o.LicenseKey {
				t.Errorf("%s: activation %+v", name, s.Activation)
			}
		}
		// UUIDs differ between different settings…
		for _, u := range s.UUIDs {
			if other, dup := seen[u]; dup {
				t.Errorf("%s reuses UUID %s of %s", name, u, other)
			}
			seen[u] = name
		}
		// …and are the same (the whole file is) when downloaded again.
		again, _ := mobileconfig.Generate(o)
		if !bytes.Equal(again, b) {
			t.Errorf("%s: a second download differs", name)
		}
	}
	// Another key of the account gets another identifier.
	other := base()
	other.KeyID = "01a2-key2"
	b, _ := mobileconfig.Generate(other)
	if s := parse(t, b); s.Identifier == "com.example.gatehouse.desktop-activation.01a2-acct.01a2-key" {
		t.Error("two keys share a profile identifier")
	}
	// Bad options are refused.
	for _, bad := range []mobileconfig.Options{
		{IdentifierPrefix: "gatehouse", AccountID: "a", Experience: "sso"},
		{IdentifierPrefix: "com.example", AccountID: "a", Experience: "key"},
		{IdentifierPrefix: "com.example", AccountID: "a", Experience: "sso", LicenseKey: "X"},
		{IdentifierPrefix: "com.example", AccountID: "a", Experience: "password"},
	} {
		if _, err := mobileconfig.Generate(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

func selfSigned(t *testing.T, key any, pub any) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Example MDM profile signing"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestSignedProfile signs with RSA and ECDSA keys and has OpenSSL verify
// the CMS signature against the certificate and give back the profile,
// which plistlib then reads.
func TestSignedProfile(t *testing.T) {
	peer(t, "openssl", "openssl")
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	for name, c := range map[string]struct {
		cert, key []byte
	}{
		"rsa": {selfSigned(t, rsaKey, &rsaKey.PublicKey), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})},
		"ec":  {selfSigned(t, ecKey, &ecKey.PublicKey), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := mobileconfig.NewSigner(c.cert, c.key)
			if err != nil {
				t.Fatal(err)
			}
			o := base()
			o.PPPC = true
			profile, _ := mobileconfig.Generate(o)
			signed, err := s.Sign(profile)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			in, certFile, out := filepath.Join(dir, "p.mobileconfig"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "content.plist")
			_ = os.WriteFile(in, signed, 0o600)
			_ = os.WriteFile(certFile, c.cert, 0o600)
			res, err := exec.Command("openssl", "cms", "-verify", "-inform", "DER", "-in", in, "-CAfile", certFile, "-purpose", "any", "-out", out).CombinedOutput()
			if err != nil {
				t.Fatalf("openssl cms -verify: %v\n%s", err, res)
			}
			got, _ := os.ReadFile(out)
			if !bytes.Equal(got, profile) {
				t.Fatal("signed content differs from the profile")
			}
			parse(t, got)
			// A flipped byte breaks the signature.
			signed[len(signed)/2] ^= 1
			_ = os.WriteFile(in, signed, 0o600)
			if res, err := exec.Command("openssl", "cms", "-verify", "-inform", "DER", "-in", in, "-CAfile", certFile, "-purpose", "any", "-out", out).CombinedOutput(); err == nil {
				t.Fatalf("tampered profile verified:\n%s", res)
			}
		})
	}
	if _, err := mobileconfig.NewSigner([]byte("nope"), []byte("nope")); err == nil {
		t.Fatal("bad PEM accepted")
	}
}
