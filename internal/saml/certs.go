package saml

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// certNotBeforeTolerance lets a certificate the IdP made a moment ago (on a
// clock slightly ahead of ours) be pasted at once.
const certNotBeforeTolerance = 10 * time.Minute

// ParseCertificates reads the IdP signing certificate(s) an admin pasted or
// uploaded: one or more PEM CERTIFICATE blocks, or bare base64 DER as IdPs
// show it (with or without line breaks). Expired certificates are refused.
func ParseCertificates(input string) ([]*x509.Certificate, error) {
	return parseCertificatesAt(input, time.Now())
}

func parseCertificatesAt(input string, now time.Time) ([]*x509.Certificate, error) {
	input = strings.TrimSpace(strings.TrimPrefix(input, "\ufeff"))
	if input == "" {
		return nil, errors.New("no certificate given")
	}
	var ders [][]byte
	if strings.Contains(input, "-----BEGIN") {
		rest := []byte(input)
		for n := 1; ; n++ {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			switch {
			case block.Type == "CERTIFICATE":
				ders = append(ders, block.Bytes)
			case strings.Contains(block.Type, "PRIVATE KEY"):
				return nil, fmt.Errorf("PEM block %d is a private key, not a certificate: paste the IdP's signing certificate (and keep that key secret)", n)
			default:
				return nil, fmt.Errorf("PEM block %d is a %q, not a certificate", n, block.Type)
			}
		}
		if len(ders) == 0 {
			return nil, errors.New("not a certificate: the PEM text could not be decoded (check the BEGIN/END lines and that nothing was cut)")
		}
		if trailing := bytes.TrimSpace(rest); len(trailing) > 0 {
			return nil, fmt.Errorf("not a certificate: unexpected text after PEM block %d", len(ders))
		}
	} else {
		compact := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, input)
		der, err := base64.StdEncoding.DecodeString(compact)
		if err != nil {
			return nil, errors.New("not a certificate: expected PEM (-----BEGIN CERTIFICATE-----) or base64 DER")
		}
		ders = append(ders, der)
	}
	certs := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("not a certificate (block %d): %v", i+1, err)
		}
		if err := checkCertificateKey(cert); err != nil {
			return nil, err
		}
		if !now.IsZero() {
			if err := checkCertificateTime(cert, now); err != nil {
				return nil, err
			}
		}
		dup := false
		for _, c := range certs {
			if c.Equal(cert) {
				dup = true
			}
		}
		if !dup {
			certs = append(certs, cert)
		}
	}
	return certs, nil
}

// checkCertificateKey refuses keys too weak to trust with sign-in: RSA
// below 2048 bits, and key types XML-DSig over SAML does not use.
func checkCertificateKey(cert *x509.Certificate) error {
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("certificate %s has a %d-bit RSA key; at least 2048 bits are required", describeCert(cert), k.N.BitLen())
		}
	case *ecdsa.PublicKey:
	default:
		return fmt.Errorf("certificate %s has a %T key; RSA or ECDSA is required", describeCert(cert), cert.PublicKey)
	}
	return nil
}

func checkCertificateTime(cert *x509.Certificate, now time.Time) error {
	if now.After(cert.NotAfter) {
		return fmt.Errorf("certificate %s expired on %s", describeCert(cert), cert.NotAfter.UTC().Format("2006-01-02 15:04 MST"))
	}
	if now.Add(certNotBeforeTolerance).Before(cert.NotBefore) {
		return fmt.Errorf("certificate %s is not valid before %s", describeCert(cert), cert.NotBefore.UTC().Format("2006-01-02 15:04 MST"))
	}
	return nil
}

// describeCert names a certificate for messages: subject and SHA-256
// fingerprint prefix, as admins see them in IdP consoles.
func describeCert(cert *x509.Certificate) string {
	return fmt.Sprintf("%q (SHA-256 %s)", cert.Subject.String(), Fingerprint(cert)[:23])
}

// Fingerprint returns the colon-separated upper-case SHA-256 fingerprint of
// cert, the form IdP consoles display.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}
