package saml

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/beevik/etree"
	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"gatehouse/internal/store"
)

// The SP signs AuthnRequests for identity providers that want them signed
// (IdPSettings.WantAuthnRequestsSigned) with one RSA key per deployment.
// Its self-signed certificate is what the SP metadata publishes
// (KeyDescriptor use="signing"); IdPs trust it from there, so no CA is
// involved and its validity dates are informational (most IdPs ignore
// them). Rotation is not built: the credential is made once and kept.
const (
	// SigningSetting is the settings key holding the credential (PEM: the
	// PKCS#8 private key, then the certificate).
	SigningSetting = "saml.sp_signing_key"

	signingKeyBits     = 2048
	signingCertYears   = 10
	signingCertSubject = "Gatehouse SAML SP request signing"
)

// NewSigningCredential makes an RSA-2048 key and a self-signed certificate
// valid for ten years from now, as PEM text (PRIVATE KEY, then CERTIFICATE)
// for ParseSigningCredential.
func NewSigningCredential(now time.Time) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, signingKeyBits)
	if err != nil {
		return "", fmt.Errorf("saml: signing key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", fmt.Errorf("saml: certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: signingCertSubject, Organization: []string{"Gatehouse"}},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              now.AddDate(signingCertYears, 0, 0).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", fmt.Errorf("saml: signing certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("saml: signing key: %w", err)
	}
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	return b.String(), nil
}

// ParseSigningCredential reads NewSigningCredential's PEM text: an RSA key
// of at least 2048 bits and the certificate of its public key.
func ParseSigningCredential(pemText string) (*rsa.PrivateKey, *x509.Certificate, error) {
	var key *rsa.PrivateKey
	var cert *x509.Certificate
	rest := []byte(pemText)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("saml: signing key: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, nil, fmt.Errorf("saml: signing key is a %T, want RSA", k)
			}
			key = rk
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("saml: signing certificate: %w", err)
			}
			cert = c
		}
	}
	switch {
	case key == nil || cert == nil:
		return nil, nil, errors.New("saml: the signing credential needs a PRIVATE KEY and a CERTIFICATE block")
	case key.N.BitLen() < signingKeyBits:
		return nil, nil, fmt.Errorf("saml: the signing key has %d bits, fewer than %d", key.N.BitLen(), signingKeyBits)
	case !key.PublicKey.Equal(cert.PublicKey):
		return nil, nil, errors.New("saml: the signing certificate is not for the signing key")
	}
	return key, cert, nil
}

// EnsureSigningCredential returns the deployment's request-signing key and
// certificate from the settings table, making them the first time: the
// node that starts first wins and every node shares its credential.
func EnsureSigningCredential(ctx context.Context, db *store.DB) (*rsa.PrivateKey, *x509.Certificate, error) {
	text, err := store.EnsureSetting(ctx, db, SigningSetting, func() (string, error) {
		return NewSigningCredential(time.Now())
	})
	if err != nil {
		return nil, nil, fmt.Errorf("saml: SP signing credential: %w", err)
	}
	return ParseSigningCredential(text)
}

// signingSP returns a gosaml2 service provider for idp's SSO URL, set up to
// sign with RSA-SHA256 and exclusive c14n when the IdP wants signed
// AuthnRequests. An IdP that wants them while no key is configured is an
// error, so that no unsigned request is sent to be refused.
func (s *Service) signingSP(idp IdPSettings) (*saml2.SAMLServiceProvider, error) {
	gsp := &saml2.SAMLServiceProvider{IdentityProviderSSOURL: idp.SSOURL}
	if !idp.WantAuthnRequestsSigned {
		return gsp, nil
	}
	if s.SigningKey == nil || s.SigningCert == nil {
		return nil, errors.New("saml: the IdP requires signed AuthnRequests but the SP has no signing key")
	}
	gsp.SignAuthnRequests = true
	gsp.SignAuthnRequestsAlgorithm = dsig.RSASHA256SignatureMethod
	gsp.SignAuthnRequestsCanonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := gsp.SetSPSigningKeyStore(&saml2.KeyStore{Signer: s.SigningKey, Cert: s.SigningCert.Raw}); err != nil {
		return nil, fmt.Errorf("saml: signing key: %w", err)
	}
	return gsp, nil
}

// checkRedirectSignature makes sure a signed redirect URL carries the
// algorithm we chose: gosaml2 ignores an algorithm it cannot set and would
// then sign with its default.
func checkRedirectSignature(redirectURL string) error {
	u, err := url.Parse(redirectURL)
	if err != nil {
		return err
	}
	q := u.Query()
	if q.Get("SigAlg") != dsig.RSASHA256SignatureMethod || q.Get("Signature") == "" {
		return fmt.Errorf("saml: the redirect URL is not signed with RSA-SHA256 (SigAlg %q)", q.Get("SigAlg"))
	}
	return nil
}

// signPOST puts an enveloped signature (RSA-SHA256, SHA-256 digest,
// exclusive c14n) into the AuthnRequest, after its Issuer as the schema
// wants.
func signPOST(gsp *saml2.SAMLServiceProvider, doc *etree.Document) error {
	signed, err := gsp.SignAuthnRequest(doc.Root())
	if err != nil {
		return fmt.Errorf("saml: sign AuthnRequest: %w", err)
	}
	sig := signed.FindElement("./Signature")
	if sig == nil || sig.FindElement("./SignedInfo/SignatureMethod[@Algorithm='"+dsig.RSASHA256SignatureMethod+"']") == nil {
		return errors.New("saml: the AuthnRequest signature is not RSA-SHA256")
	}
	doc.SetRoot(signed)
	return nil
}
