package saml

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	saml2 "github.com/russellhaering/gosaml2"
)

// maxMetadataSize bounds uploaded IdP metadata (Entra's is ~10 KB; federation
// aggregates are refused anyway because they hold many IdPs).
const maxMetadataSize = 1 << 20

// MetadataProblem says what kind of file was uploaded as IdP metadata, so
// the configurator can tell the admin what to do; the error's text is the
// technical detail.
type MetadataProblem int

// Kinds of refused metadata.
const (
	// MetadataUnreadable: not XML, or XML that is no SAML metadata.
	MetadataUnreadable MetadataProblem = iota + 1
	// MetadataUnsafe: a DTD or entity declaration.
	MetadataUnsafe
	// MetadataTooMany: a federation aggregate (many IdPs, or too large).
	MetadataTooMany
	// MetadataOfSP: a service provider's metadata (Gatehouse's own, say).
	MetadataOfSP
	// MetadataIncomplete: an IdP's metadata lacking something Gatehouse needs.
	MetadataIncomplete
)

// MetadataError is a refusal of IdP metadata.
type MetadataError struct {
	Problem MetadataProblem
	Err     error
}

func (e *MetadataError) Error() string { return e.Err.Error() }
func (e *MetadataError) Unwrap() error { return e.Err }

func metadataErr(p MetadataProblem, err error) error { return &MetadataError{Problem: p, Err: err} }

// ParseIdPMetadata reads an IdP's metadata XML: an EntityDescriptor, or an
// EntitiesDescriptor holding exactly one identity provider. It takes the
// entityID, the SingleSignOnService (HTTP-Redirect preferred, else
// HTTP-POST), WantAuthnRequestsSigned and every certificate of a
// KeyDescriptor with use="signing" or no use. Errors are sentences an admin
// can act on.
func ParseIdPMetadata(xml []byte) (IdPSettings, error) {
	return parseIdPMetadataAt(xml, time.Now())
}

func parseIdPMetadataAt(raw []byte, now time.Time) (IdPSettings, error) {
	var idp IdPSettings
	if len(raw) == 0 {
		return idp, metadataErr(MetadataUnreadable, errors.New("the metadata is empty"))
	}
	if len(raw) > maxMetadataSize {
		return idp, metadataErr(MetadataTooMany, fmt.Errorf("the metadata is %d bytes, more than the %d accepted; upload the metadata of your one IdP, not a federation aggregate", len(raw), maxMetadataSize))
	}
	doc, r := parseStrict(raw)
	if r != nil {
		switch r.Code {
		case CodeDTDForbidden:
			return idp, metadataErr(MetadataUnsafe, errors.New("the metadata contains a DTD (<!DOCTYPE …>) or entity declaration, which is refused for safety; export it again without one"))
		default:
			return idp, metadataErr(MetadataUnreadable, fmt.Errorf("the metadata is not valid XML: %s", r.Detail))
		}
	}
	root := doc.Root()
	var entity *etree.Element
	switch {
	case is(root, nsMetadata, "EntityDescriptor"):
		entity = root
	case is(root, nsMetadata, "EntitiesDescriptor"):
		var idps []*etree.Element
		for _, e := range descendants(root, nsMetadata, "EntityDescriptor") {
			if len(children(e, nsMetadata, "IDPSSODescriptor")) > 0 {
				idps = append(idps, e)
			}
		}
		switch len(idps) {
		case 0:
			return idp, metadataErr(MetadataUnreadable, errors.New("the metadata contains no identity provider (no EntityDescriptor with an IDPSSODescriptor)"))
		case 1:
			entity = idps[0]
		default:
			return idp, metadataErr(MetadataTooMany, fmt.Errorf("the metadata describes %d identity providers; upload the metadata of exactly one", len(idps)))
		}
	default:
		return idp, metadataErr(MetadataUnreadable, fmt.Errorf("this is not SAML 2.0 metadata: the root element is <%s> in namespace %q, expected <EntityDescriptor> in %q", root.Tag, root.NamespaceURI(), nsMetadata))
	}

	idp.EntityID = strings.TrimSpace(attr(entity, "entityID"))
	if idp.EntityID == "" {
		return idp, metadataErr(MetadataIncomplete, errors.New("the EntityDescriptor has no entityID"))
	}
	descs := children(entity, nsMetadata, "IDPSSODescriptor")
	switch len(descs) {
	case 0:
		if len(children(entity, nsMetadata, "SPSSODescriptor")) > 0 {
			return idp, metadataErr(MetadataOfSP, fmt.Errorf("this is the metadata of a service provider (%s), not of an identity provider", idp.EntityID))
		}
		return idp, metadataErr(MetadataIncomplete, fmt.Errorf("the metadata of %s has no IDPSSODescriptor (it does not describe a SAML identity provider)", idp.EntityID))
	case 1:
	default:
		return idp, metadataErr(MetadataIncomplete, fmt.Errorf("the metadata of %s has %d IDPSSODescriptor elements; expected one", idp.EntityID, len(descs)))
	}
	desc := descs[0]
	if !strings.Contains(attr(desc, "protocolSupportEnumeration"), nsProtocol) {
		return idp, metadataErr(MetadataIncomplete, fmt.Errorf("the IdP does not declare SAML 2.0 support (protocolSupportEnumeration %q lacks %q)", attr(desc, "protocolSupportEnumeration"), nsProtocol))
	}
	// xs:boolean, absent = false (SAML metadata §2.4.3).
	switch v := strings.TrimSpace(attr(desc, "WantAuthnRequestsSigned")); v {
	case "", "false", "0":
	case "true", "1":
		idp.WantAuthnRequestsSigned = true
	default:
		return idp, metadataErr(MetadataIncomplete, fmt.Errorf("the IDPSSODescriptor's WantAuthnRequestsSigned is %.40q, not true or false", v))
	}

	var redirect, post string
	var seen []string
	for _, sso := range children(desc, nsMetadata, "SingleSignOnService") {
		b, loc := attr(sso, "Binding"), strings.TrimSpace(attr(sso, "Location"))
		seen = append(seen, b)
		switch b {
		case saml2.BindingHttpRedirect:
			if redirect == "" {
				redirect = loc
			}
		case saml2.BindingHttpPost:
			if post == "" {
				post = loc
			}
		}
	}
	switch {
	case redirect != "":
		idp.SSOURL, idp.SSOBinding = redirect, SSOBindingRedirect
	case post != "":
		idp.SSOURL, idp.SSOBinding = post, SSOBindingPOST
	case len(seen) == 0:
		return idp, metadataErr(MetadataIncomplete, errors.New("the IdP metadata has no SingleSignOnService"))
	default:
		return idp, metadataErr(MetadataIncomplete, fmt.Errorf("the IdP offers no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding (found: %s)", strings.Join(seen, ", ")))
	}
	if err := checkURL(idp.SSOURL); err != nil {
		return idp, metadataErr(MetadataIncomplete, fmt.Errorf("the SingleSignOnService location %q: %v", idp.SSOURL, err))
	}

	var expired []error
	for _, kd := range children(desc, nsMetadata, "KeyDescriptor") {
		if use := attr(kd, "use"); use != "" && use != "signing" {
			continue
		}
		for _, x := range descendants(kd, nsDSig, "X509Certificate") {
			cert, err := parseOneCertificate(text(x))
			if err != nil {
				return idp, metadataErr(MetadataIncomplete, fmt.Errorf("a signing certificate in the metadata is not a certificate: %v", err))
			}
			if err := checkCertificateTime(cert, now); err != nil {
				expired = append(expired, err)
				continue
			}
			if !containsCert(idp.Certificates, cert) {
				idp.Certificates = append(idp.Certificates, cert)
			}
		}
	}
	if len(idp.Certificates) == 0 {
		if len(expired) > 0 {
			return idp, metadataErr(MetadataIncomplete, fmt.Errorf("the IdP's signing %v; download fresh metadata after the IdP has a current certificate", errors.Join(expired...)))
		}
		return idp, metadataErr(MetadataIncomplete, errors.New("the IdP metadata contains no signing certificate (KeyDescriptor use=\"signing\" with an X509Certificate)"))
	}
	return idp, nil
}

// parseOneCertificate reads the base64 DER of a ds:X509Certificate.
func parseOneCertificate(b64 string) (*x509.Certificate, error) {
	certs, err := parseCertificatesAt(b64, time.Time{})
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("expected one certificate, found %d", len(certs))
	}
	return certs[0], nil
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return errors.New("not an http(s) URL")
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// SPMetadata renders our service provider metadata for one account: the
// IdP admin uploads it (or copies entity ID and ACS URL from it). With a
// SigningCert it lists that certificate as the SP's signing key, and states
// AuthnRequestsSigned="true" when sp.AuthnRequestsSigned.
func SPMetadata(sp SPSettings) []byte {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	ed := doc.CreateElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", nsMetadata)
	ed.CreateAttr("entityID", sp.EntityID)
	sd := ed.CreateElement("md:SPSSODescriptor")
	sd.CreateAttr("AuthnRequestsSigned", strconv.FormatBool(sp.AuthnRequestsSigned && sp.SigningCert != nil))
	sd.CreateAttr("WantAssertionsSigned", "true")
	sd.CreateAttr("protocolSupportEnumeration", nsProtocol)
	if sp.SigningCert != nil {
		// Schema order: KeyDescriptor before NameIDFormat.
		kd := sd.CreateElement("md:KeyDescriptor")
		kd.CreateAttr("use", "signing")
		ki := kd.CreateElement("ds:KeyInfo")
		ki.CreateAttr("xmlns:ds", nsDSig)
		ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
			SetText(base64.StdEncoding.EncodeToString(sp.SigningCert.Raw))
	}
	for _, f := range []string{NameIDFormatEmail, NameIDFormatPersistent, NameIDFormatUnspecified} {
		sd.CreateElement("md:NameIDFormat").SetText(f)
	}
	acs := sd.CreateElement("md:AssertionConsumerService")
	acs.CreateAttr("Binding", BindingPOST)
	acs.CreateAttr("Location", sp.ACSURL)
	acs.CreateAttr("index", "0")
	acs.CreateAttr("isDefault", "true")
	doc.Indent(2)
	out, _ := doc.WriteToBytes() // writing to memory cannot fail
	return out
}
