package saml

import (
	"crypto/x509"
	"encoding/base64"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// Algorithms accepted on signatures: SHA-256 or stronger.
var (
	strongSignatureMethods = map[string]bool{
		dsig.RSASHA256SignatureMethod:   true,
		dsig.RSASHA384SignatureMethod:   true,
		dsig.RSASHA512SignatureMethod:   true,
		dsig.ECDSASHA256SignatureMethod: true,
		dsig.ECDSASHA384SignatureMethod: true,
		dsig.ECDSASHA512SignatureMethod: true,
	}
	weakSignatureMethods = map[string]bool{
		dsig.RSASHA1SignatureMethod:                      true,
		dsig.ECDSASHA1SignatureMethod:                    true,
		"http://www.w3.org/2000/09/xmldsig#dsa-sha1":     true,
		"http://www.w3.org/2000/09/xmldsig#hmac-sha1":    true,
		"http://www.w3.org/2001/04/xmldsig-more#rsa-md5": true,
	}
	strongDigests = map[string]bool{
		"http://www.w3.org/2001/04/xmlenc#sha256":       true,
		"http://www.w3.org/2001/04/xmldsig-more#sha384": true,
		"http://www.w3.org/2001/04/xmlenc#sha512":       true,
	}
	weakDigests = map[string]bool{
		"http://www.w3.org/2000/09/xmldsig#sha1":        true,
		"http://www.w3.org/2001/04/xmldsig-more#md5":    true,
		"http://www.w3.org/2001/04/xmldsig-more#sha224": true,
	}
	excC14N = map[string]bool{
		string(dsig.CanonicalXML10ExclusiveAlgorithmId):             true,
		string(dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId): true,
	}
)

// checkSignatureShape holds an enveloped signature on parent to the SAML
// profile (SAML core 5.4) before any cryptography: the usual ds children
// only (no ds:Object to hide a wrapped copy in), exclusive canonicalisation,
// one Reference whose URI is "#" + parent's ID, the enveloped-signature and
// exc-c14n transforms only, SHA-256+ for signature and digest.
func checkSignatureShape(sig, parent *etree.Element) *Refusal {
	where := name(parent)
	var signedInfo, value []*etree.Element
	for _, c := range sig.ChildElements() {
		switch {
		case is(c, nsDSig, "SignedInfo"):
			signedInfo = append(signedInfo, c)
		case is(c, nsDSig, "SignatureValue"):
			value = append(value, c)
		case is(c, nsDSig, "KeyInfo"):
		default:
			return refuse(CodeSignatureInvalid, "the signature on %s contains an unexpected %s", where, name(c))
		}
	}
	if len(signedInfo) != 1 || len(value) != 1 || len(children(sig, nsDSig, "KeyInfo")) > 1 {
		return refuse(CodeSignatureInvalid, "the signature on %s must have one SignedInfo, one SignatureValue and at most one KeyInfo", where)
	}
	si := signedInfo[0]
	c14n := children(si, nsDSig, "CanonicalizationMethod")
	if len(c14n) != 1 || !excC14N[attr(c14n[0], "Algorithm")] {
		got := "(none)"
		if len(c14n) > 0 {
			got = attr(c14n[0], "Algorithm")
		}
		return refuse(CodeSignatureInvalid, "the signature on %s uses canonicalization %s; expected exclusive c14n (%s)", where, got, dsig.CanonicalXML10ExclusiveAlgorithmId)
	}
	sm := children(si, nsDSig, "SignatureMethod")
	if len(sm) != 1 {
		return refuse(CodeSignatureInvalid, "the signature on %s must have exactly one SignatureMethod", where)
	}
	switch alg := attr(sm[0], "Algorithm"); {
	case weakSignatureMethods[alg]:
		return refuse(CodeWeakAlgorithm, "the signature on %s uses %s; SHA-256 or stronger is required (set the IdP's signing algorithm to RSA-SHA256)", where, alg)
	case !strongSignatureMethods[alg]:
		return refuse(CodeSignatureInvalid, "the signature on %s uses the unsupported signature method %q", where, alg)
	}
	refs := children(si, nsDSig, "Reference")
	if len(refs) != 1 {
		return refuse(CodeSignatureInvalid, "the signature on %s has %d References; exactly one is required", where, len(refs))
	}
	for _, c := range si.ChildElements() {
		if !is(c, nsDSig, "CanonicalizationMethod") && !is(c, nsDSig, "SignatureMethod") && !is(c, nsDSig, "Reference") {
			return refuse(CodeSignatureInvalid, "the SignedInfo on %s contains an unexpected %s", where, name(c))
		}
	}
	ref := refs[0]
	id := attr(parent, "ID")
	if uri := attr(ref, "URI"); id == "" || uri != "#"+id {
		return refuse(CodeSignatureInvalid, "the signature inside %s references %q, not its parent element (ID %q)", where, uri, id)
	}
	var enveloped, exc bool
	for _, ts := range children(ref, nsDSig, "Transforms") {
		for _, t := range ts.ChildElements() {
			alg := attr(t, "Algorithm")
			switch {
			case !is(t, nsDSig, "Transform"):
				return refuse(CodeSignatureInvalid, "the signature on %s has an unexpected %s in Transforms", where, name(t))
			case alg == string(dsig.EnvelopedSignatureAltorithmId) && !enveloped:
				enveloped = true
			case excC14N[alg] && !exc:
				exc = true
			default:
				return refuse(CodeSignatureInvalid, "the signature on %s uses the transform %q, which is not allowed (only enveloped-signature and exclusive c14n, once each)", where, alg)
			}
		}
	}
	if !enveloped || !exc {
		return refuse(CodeSignatureInvalid, "the signature on %s must use the enveloped-signature and exclusive c14n transforms", where)
	}
	dm := children(ref, nsDSig, "DigestMethod")
	if len(dm) != 1 {
		return refuse(CodeSignatureInvalid, "the signature on %s must have exactly one DigestMethod", where)
	}
	switch alg := attr(dm[0], "Algorithm"); {
	case weakDigests[alg]:
		return refuse(CodeWeakAlgorithm, "the signature on %s uses the digest %s; SHA-256 or stronger is required", where, alg)
	case !strongDigests[alg]:
		return refuse(CodeSignatureInvalid, "the signature on %s uses the unsupported digest %q", where, alg)
	}
	return nil
}

// maxSignedElements is goxmldsig's traversal limit (etreeutils'
// NewDefaultNSContext): a signed element with more elements than this,
// its Signature included, cannot be verified by it.
const maxSignedElements = 1000

// countElements counts el and its descendant elements, stopping at stop.
func countElements(el *etree.Element, stop int) int {
	n := 1
	for _, c := range el.ChildElements() {
		if n >= stop {
			break
		}
		n += countElements(c, stop-n)
	}
	return n
}

// verifySigned checks the enveloped signature sig on parent against the
// configured certificates and returns the element the signature covers,
// re-parsed by goxmldsig from the canonical bytes that were digested: the
// caller reads only from it.
//
// A certificate in the signature's KeyInfo is only a hint for which
// configured certificate to try first; it is never trusted itself.
func verifySigned(parent, sig *etree.Element, certs []*x509.Certificate, now time.Time) (*etree.Element, *Refusal) {
	// goxmldsig walks at most maxSignedElements elements of the signed
	// element (a traversal limit against resource exhaustion that it does
	// not let callers raise) and then fails with a bare "traversal limit
	// reached". Counted here first, so that the admin reads what happened
	// and what to do instead of "malformed".
	if n := countElements(parent, maxSignedElements+1); n > maxSignedElements {
		return nil, refuse(CodeTooManyElements, "the signed %s has more than %d XML elements (it carries %d attribute values); the XML-signature verifier checks at most %d, so the signature cannot be verified. Send fewer values: filter the groups claim in the IdP to the groups Gatehouse maps (the admins and Desktop Users groups), or use Entra's group overage (SCIM then supplies the groups)",
			name(parent), maxSignedElements, len(descendants(parent, nsAssertion, "AttributeValue")), maxSignedElements)
	}
	nsCtx, err := etreeutils.NSBuildParentContext(parent)
	if err != nil {
		return nil, refuse(CodeMalformed, "namespaces around %s: %v", name(parent), err)
	}
	detached, err := etreeutils.NSDetatch(nsCtx, parent)
	if err != nil {
		return nil, refuse(CodeMalformed, "namespaces around %s: %v", name(parent), err)
	}
	// goxmldsig would take the KeyInfo certificate and only then compare it
	// with the trusted ones, and with several trusted certificates and no
	// KeyInfo it gives up; removing KeyInfo (which no digest covers) makes
	// it verify with exactly the one certificate we hand it.
	var hint *x509.Certificate
	for _, s := range children(detached, nsDSig, "Signature") {
		for _, ki := range children(s, nsDSig, "KeyInfo") {
			if hint == nil {
				for _, x := range descendants(ki, nsDSig, "X509Certificate") {
					if der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text(x)), "")); err == nil {
						hint, _ = x509.ParseCertificate(der)
					}
					break
				}
			}
			s.RemoveChild(ki)
		}
	}
	ordered := make([]*x509.Certificate, 0, len(certs))
	for _, c := range certs {
		if hint != nil && c.Equal(hint) {
			ordered = append([]*x509.Certificate{c}, ordered...)
		} else {
			ordered = append(ordered, c)
		}
	}
	var lastErr error
	var expired []*x509.Certificate
	for _, cert := range ordered {
		if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
			expired = append(expired, cert)
			continue
		}
		vctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		vctx.Clock = dsig.NewFakeClockAt(now)
		out, err := vctx.Validate(detached)
		if err == nil {
			return out, nil
		}
		lastErr = err
	}
	if len(ordered) == 0 {
		return nil, refuse(CodeUnknownCertificate, "no signing certificate is configured for this IdP")
	}
	if hint != nil && !containsCert(certs, hint) {
		return nil, refuse(CodeUnknownCertificate, "%s is signed with certificate %s, which is not configured for this IdP (configured: %s)",
			name(parent), describeCert(hint), describeCerts(certs))
	}
	if lastErr == nil && len(expired) > 0 {
		return nil, refuse(CodeCertificateExpired, "every configured signing certificate is outside its validity period (%s expired on %s); upload the IdP's new certificate",
			describeCert(expired[0]), expired[0].NotAfter.UTC().Format("2006-01-02"))
	}
	return nil, refuse(CodeSignatureInvalid, "the signature on %s does not verify with the configured certificate(s) %s: %v", name(parent), describeCerts(certs), lastErr)
}

func describeCerts(certs []*x509.Certificate) string {
	parts := make([]string, len(certs))
	for i, c := range certs {
		parts[i] = describeCert(c)
	}
	return strings.Join(parts, ", ")
}
