package saml

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// maxResponseSize bounds a decoded SAMLResponse. Real ones are a few KB;
// Entra users in hundreds of groups reach ~100 KB.
const maxResponseSize = 512 << 10

// verified is what the document checks established, before the database
// checks (request and replay).
type verified struct {
	assertion    Assertion
	inResponseTo string
	replayUntil  time.Time
}

// decodeResponse turns the posted SAMLResponse form value into XML bytes.
func decodeResponse(samlResponse string) ([]byte, *Refusal) {
	compact := strings.Join(strings.Fields(samlResponse), "")
	if compact == "" {
		return nil, refuse(CodeMalformed, "the SAMLResponse form value is empty")
	}
	if base64.StdEncoding.DecodedLen(len(compact)) > maxResponseSize {
		return nil, refuse(CodeMalformed, "the SAMLResponse is larger than %d bytes", maxResponseSize)
	}
	raw, err := base64.StdEncoding.DecodeString(compact)
	if err != nil {
		return nil, refuse(CodeMalformed, "the SAMLResponse is not base64: %v", err)
	}
	return raw, nil
}

// verifyResponse runs every check that needs only the document, the
// settings and the clock. The order matters only for which code a broken
// response gets; every check runs before anything is accepted.
func verifyResponse(raw []byte, sp SPSettings, idp IdPSettings, now time.Time, skew time.Duration) (*verified, *Refusal) {
	return verifyResponseChecks(raw, sp, idp, now, skew, true)
}

// verifyResponseChecks is verifyResponse; structural=false leaves out the
// duplicate-ID and one-assertion checks, only so a test can show that
// reading from the signed element alone already defeats signature wrapping.
func verifyResponseChecks(raw []byte, sp SPSettings, idp IdPSettings, now time.Time, skew time.Duration, structural bool) (*verified, *Refusal) {
	doc, r := parseXML(raw, structural)
	if r != nil {
		return nil, r
	}
	root := doc.Root()
	if !is(root, nsProtocol, "Response") {
		return nil, refuse(CodeMalformed, "expected a <samlp:Response> in %q, got <%s> in %q", nsProtocol, root.Tag, root.NamespaceURI())
	}
	if v := attr(root, "Version"); v != "2.0" {
		return nil, refuse(CodeMalformed, "Response Version is %q, expected \"2.0\"", v)
	}
	if attr(root, "ID") == "" {
		return nil, refuse(CodeMalformed, "the Response has no ID")
	}
	if r := checkStatus(root); r != nil {
		return nil, r
	}
	if enc := descendants(root, nsAssertion, "EncryptedAssertion"); len(enc) > 0 {
		return nil, refuse(CodeEncryptedAssertion, "the Response carries an EncryptedAssertion; Gatehouse does not decrypt assertions — turn assertion encryption off at the IdP (the connection is TLS)")
	}
	all := descendants(root, nsAssertion, "Assertion")
	if !structural {
		all = children(root, nsAssertion, "Assertion")
		if len(all) > 1 {
			all = all[:1]
		}
	}
	switch {
	case len(all) == 0:
		return nil, refuse(CodeMalformed, "the Response contains no Assertion")
	case len(all) > 1:
		return nil, refuse(CodeMultipleAssertions, "the Response contains %d Assertion elements; exactly one is accepted", len(all))
	case all[0].Parent() != root:
		return nil, refuse(CodeMalformed, "the Assertion is inside %s instead of directly inside the Response", name(all[0].Parent()))
	}
	rawAssertion := all[0]
	if c := hasComment(rawAssertion); c != nil {
		return nil, refuse(CodeMalformed, "the Assertion contains an XML comment inside %s; comments could alter what is read (comment injection), so they are refused", name(c))
	}

	// Signatures may sit only directly on the Response and the Assertion.
	var respSig, assertSig *etree.Element
	for _, s := range descendants(root, nsDSig, "Signature") {
		switch {
		case s.Parent() == root && respSig == nil:
			respSig = s
		case s.Parent() == rawAssertion && assertSig == nil:
			assertSig = s
		default:
			return nil, refuse(CodeSignatureInvalid, "unexpected signature inside %s", name(s.Parent()))
		}
	}
	if respSig == nil && assertSig == nil {
		return nil, refuse(CodeSignatureMissing, "neither the Response nor the Assertion is signed")
	}
	for _, pair := range [][2]*etree.Element{{respSig, root}, {assertSig, rawAssertion}} {
		if pair[0] != nil {
			if r := checkSignatureShape(pair[0], pair[1]); r != nil {
				return nil, r
			}
		}
	}

	// From here on read only what a verified signature covers.
	resp := root
	var assertion *etree.Element
	if respSig != nil {
		v, r := verifySigned(root, respSig, idp.Certificates, now)
		if r != nil {
			return nil, r
		}
		resp = v
		inner := children(resp, nsAssertion, "Assertion")
		if len(inner) != 1 {
			return nil, refuse(CodeMultipleAssertions, "the signed Response contains %d Assertions", len(inner))
		}
		assertion = inner[0]
	}
	if assertSig != nil {
		v, r := verifySigned(rawAssertion, assertSig, idp.Certificates, now)
		if r != nil {
			return nil, r
		}
		assertion = v
	}
	if !is(assertion, nsAssertion, "Assertion") {
		return nil, refuse(CodeSignatureInvalid, "the signed element is %s, not the Assertion", name(assertion))
	}

	// Response-level checks. When the Response is unsigned these values are
	// unauthenticated; they are still checked (a mismatch is refused) but
	// nothing is taken from them.
	if iss := children(resp, nsAssertion, "Issuer"); len(iss) > 1 {
		return nil, refuse(CodeMalformed, "the Response has %d Issuer elements", len(iss))
	} else if len(iss) == 1 {
		if r := checkIssuer(iss[0], idp, "Response"); r != nil {
			return nil, r
		}
	}
	dest := attr(resp, "Destination")
	switch {
	case respSig != nil && dest == "":
		return nil, refuse(CodeDestinationMismatch, "the signed Response has no Destination; expected %q", sp.ACSURL)
	case hasAttr(resp, "Destination") && dest != sp.ACSURL:
		return nil, refuse(CodeDestinationMismatch, "Response Destination is %q, expected the ACS URL %q", dest, sp.ACSURL)
	}

	out, r := checkAssertion(assertion, sp, idp, now, skew)
	if r != nil {
		return nil, r
	}
	respIRT := attr(resp, "InResponseTo")
	switch {
	case out.inResponseTo != "" && respIRT != "" && respIRT != out.inResponseTo:
		return nil, refuse(CodeInResponseToUnknown, "the Response answers %q but its Assertion answers %q", respIRT, out.inResponseTo)
	case out.inResponseTo == "" && respIRT != "" && respSig != nil:
		out.inResponseTo = respIRT
	case out.inResponseTo == "":
		return nil, refuse(CodeInResponseToMissing, "the Response answers no AuthnRequest (no InResponseTo): IdP-initiated sign-in is not accepted; start from Gatehouse's sign-in page")
	}
	return out, nil
}

func checkStatus(resp *etree.Element) *Refusal {
	st := children(resp, nsProtocol, "Status")
	if len(st) != 1 {
		return refuse(CodeMalformed, "the Response has %d Status elements, expected 1", len(st))
	}
	codes := children(st[0], nsProtocol, "StatusCode")
	if len(codes) != 1 {
		return refuse(CodeMalformed, "the Response Status has %d StatusCode elements, expected 1", len(codes))
	}
	top := attr(codes[0], "Value")
	if top == StatusSuccess {
		// A second-level code refines the first (SAML core 3.2.2.2): under
		// Success there is nothing to refine, so any nested code that is not
		// Success itself contradicts it (an IdP saying "Success /
		// AuthnFailed"). Refused rather than guessed.
		for _, sub := range descendants(codes[0], nsProtocol, "StatusCode") {
			if v := attr(sub, "Value"); v != StatusSuccess {
				return refuse(CodeStatusContradictory, "the top-level status is Success but a nested StatusCode says %q", v)
			}
		}
		return nil
	}
	detail := top
	for _, sub := range children(codes[0], nsProtocol, "StatusCode") {
		detail += " / " + attr(sub, "Value")
	}
	for _, m := range children(st[0], nsProtocol, "StatusMessage") {
		detail += ": " + text(m)
	}
	return refuse(CodeStatusNotSuccess, "the IdP answered with status %s", detail)
}

func checkIssuer(iss *etree.Element, idp IdPSettings, where string) *Refusal {
	if f := attr(iss, "Format"); f != "" && f != NameIDFormatEntity {
		return refuse(CodeIssuerMismatch, "%s Issuer has Format %q, expected %q", where, f, NameIDFormatEntity)
	}
	if got := text(iss); got != idp.EntityID {
		return refuse(CodeIssuerMismatch, "%s Issuer is %q, expected the IdP entity ID %q", where, got, idp.EntityID)
	}
	return nil
}

func parseTime(el *etree.Element, key string) (time.Time, bool, *Refusal) {
	v := attr(el, key)
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false, refuse(CodeMalformed, "%s %s is not a UTC xs:dateTime: %q", name(el), key, v)
	}
	return t.UTC(), true, nil
}

// checkWindow applies NotBefore / NotOnOrAfter of el with the clock skew.
func checkWindow(el *etree.Element, now time.Time, skew time.Duration, requireEnd bool) (time.Time, *Refusal) {
	nb, hasNB, r := parseTime(el, "NotBefore")
	if r != nil {
		return time.Time{}, r
	}
	noa, hasNOA, r := parseTime(el, "NotOnOrAfter")
	if r != nil {
		return time.Time{}, r
	}
	if hasNB && now.Add(skew).Before(nb) {
		return time.Time{}, refuse(CodeNotYetValid, "%s NotBefore is %s, now is %s (clock skew allowed: %s)", name(el), nb.Format(time.RFC3339), now.Format(time.RFC3339), skew)
	}
	if !hasNOA {
		if requireEnd {
			return time.Time{}, refuse(CodeMalformed, "%s has no NotOnOrAfter", name(el))
		}
		return time.Time{}, nil
	}
	if !now.Add(-skew).Before(noa) {
		return time.Time{}, refuse(CodeExpired, "%s NotOnOrAfter is %s, now is %s (clock skew allowed: %s)", name(el), noa.Format(time.RFC3339), now.Format(time.RFC3339), skew)
	}
	return noa, nil
}

func one(parent *etree.Element, ns, local string) (*etree.Element, *Refusal) {
	els := children(parent, ns, local)
	if len(els) != 1 {
		return nil, refuse(CodeMalformed, "%s has %d <%s> elements, expected 1", name(parent), len(els), local)
	}
	return els[0], nil
}

// checkAssertion validates a verified Assertion and reads it.
func checkAssertion(a *etree.Element, sp SPSettings, idp IdPSettings, now time.Time, skew time.Duration) (*verified, *Refusal) {
	out := &verified{}
	if v := attr(a, "Version"); v != "2.0" {
		return nil, refuse(CodeMalformed, "Assertion Version is %q, expected \"2.0\"", v)
	}
	out.assertion.ID = attr(a, "ID")
	if out.assertion.ID == "" {
		return nil, refuse(CodeMalformed, "the Assertion has no ID")
	}
	if issued, ok, r := parseTime(a, "IssueInstant"); r != nil {
		return nil, r
	} else if !ok {
		return nil, refuse(CodeMalformed, "the Assertion has no IssueInstant")
	} else if now.Add(skew).Before(issued) {
		return nil, refuse(CodeNotYetValid, "the Assertion was issued at %s, in the future (now %s, skew %s)", issued.Format(time.RFC3339), now.Format(time.RFC3339), skew)
	}

	iss, r := one(a, nsAssertion, "Issuer")
	if r != nil {
		return nil, r
	}
	if r := checkIssuer(iss, idp, "Assertion"); r != nil {
		return nil, r
	}
	out.assertion.Issuer = text(iss)

	// Conditions: time window and audience.
	cond, r := one(a, nsAssertion, "Conditions")
	if r != nil {
		return nil, r
	}
	condEnd, r := checkWindow(cond, now, skew, false)
	if r != nil {
		return nil, r
	}
	restrictions := 0
	for _, c := range cond.ChildElements() {
		switch {
		case is(c, nsAssertion, "AudienceRestriction"):
			restrictions++
			var got []string
			match := false
			for _, aud := range children(c, nsAssertion, "Audience") {
				got = append(got, text(aud))
				match = match || text(aud) == sp.EntityID
			}
			if !match {
				return nil, refuse(CodeAudienceMismatch, "AudienceRestriction lists %q, expected our entity ID %q", got, sp.EntityID)
			}
		case is(c, nsAssertion, "OneTimeUse"), is(c, nsAssertion, "ProxyRestriction"):
			// Single use is enforced for every assertion by the replay cache;
			// we never proxy.
		default:
			return nil, refuse(CodeUnsupportedCondition, "the Conditions contain %s, which Gatehouse cannot evaluate", name(c))
		}
	}
	if restrictions == 0 {
		return nil, refuse(CodeAudienceMismatch, "the Assertion has no AudienceRestriction; expected one naming %q", sp.EntityID)
	}

	// Subject: NameID and a bearer confirmation for our ACS.
	subj, r := one(a, nsAssertion, "Subject")
	if r != nil {
		return nil, r
	}
	if len(children(subj, nsAssertion, "EncryptedID")) > 0 || len(children(subj, nsAssertion, "BaseID")) > 0 {
		return nil, refuse(CodeMalformed, "the Subject uses an EncryptedID or BaseID; a plain NameID is required")
	}
	nameID, r := one(subj, nsAssertion, "NameID")
	if r != nil {
		return nil, r
	}
	if len(nameID.ChildElements()) > 0 {
		return nil, refuse(CodeMalformed, "the NameID contains child elements")
	}
	// Identity values are taken exactly as signed, untrimmed: an IdP user
	// who can set their address to " admin@corp.example" must not become
	// admin@corp.example. The canonical address function refuses them.
	out.assertion.NameID = rawText(nameID)
	out.assertion.NameIDFormat = attr(nameID, "Format")
	if strings.TrimSpace(out.assertion.NameID) == "" {
		return nil, refuse(CodeMalformed, "the NameID is empty")
	}
	var first *Refusal
	var scdEnd time.Time
	found := false
	for _, sc := range children(subj, nsAssertion, "SubjectConfirmation") {
		if attr(sc, "Method") != confirmationBearer {
			continue
		}
		end, irt, r := checkBearer(sc, sp, now, skew)
		if r == nil {
			found, scdEnd, out.inResponseTo = true, end, irt
			break
		}
		if first == nil {
			first = r
		}
	}
	if !found {
		if first != nil {
			return nil, first
		}
		return nil, refuse(CodeMalformed, "the Subject has no bearer SubjectConfirmation")
	}

	// AuthnStatement: the IdP authenticated the person.
	stmts := children(a, nsAssertion, "AuthnStatement")
	if len(stmts) == 0 {
		return nil, refuse(CodeMalformed, "the Assertion has no AuthnStatement")
	}
	out.assertion.SessionIndex = attr(stmts[0], "SessionIndex")
	if end, ok, r := parseTime(stmts[0], "SessionNotOnOrAfter"); r != nil {
		return nil, r
	} else if ok && !now.Add(-skew).Before(end) {
		return nil, refuse(CodeExpired, "the IdP session ended at %s (SessionNotOnOrAfter)", end.Format(time.RFC3339))
	}

	if r := readAttributes(a, &out.assertion); r != nil {
		return nil, r
	}

	out.assertion.NotOnOrAfter = scdEnd
	if !condEnd.IsZero() && condEnd.Before(scdEnd) {
		out.assertion.NotOnOrAfter = condEnd
	}
	out.replayUntil = scdEnd
	if condEnd.After(scdEnd) {
		out.replayUntil = condEnd
	}
	out.replayUntil = out.replayUntil.Add(skew)
	return out, nil
}

func checkBearer(sc *etree.Element, sp SPSettings, now time.Time, skew time.Duration) (time.Time, string, *Refusal) {
	scd, r := one(sc, nsAssertion, "SubjectConfirmationData")
	if r != nil {
		return time.Time{}, "", r
	}
	if got := attr(scd, "Recipient"); got != sp.ACSURL {
		return time.Time{}, "", refuse(CodeRecipientMismatch, "SubjectConfirmationData Recipient is %q, expected the ACS URL %q", got, sp.ACSURL)
	}
	end, r := checkWindow(scd, now, skew, true)
	if r != nil {
		return time.Time{}, "", r
	}
	return end, attr(scd, "InResponseTo"), nil
}

// oidAliases names the standard attribute OIDs (urn:oid:… names, as
// Shibboleth-style IdPs and pysaml2 send them) that mean one of our keys.
var oidAliases = map[string]string{
	"urn:oid:2.16.840.1.113730.3.1.241": "displayname", // inetOrgPerson displayName
}

// normalizeAttrName maps an attribute Name to its key in
// Assertion.Attributes: the lower-cased last path segment, so URI claims
// (Entra, ADFS) and plain names (Okta, Google, Ping) meet.
func normalizeAttrName(n string) string {
	n = strings.TrimSpace(n)
	if alias, ok := oidAliases[strings.ToLower(n)]; ok {
		return alias
	}
	if i := strings.LastIndexByte(n, '/'); i >= 0 && i < len(n)-1 {
		n = n[i+1:]
	} else if strings.HasPrefix(strings.ToLower(n), "urn:") {
		n = n[strings.LastIndexByte(n, ':')+1:]
	}
	return strings.ToLower(n)
}

func readAttributes(a *etree.Element, out *Assertion) *Refusal {
	out.Attributes = map[string][]string{}
	origin := map[string]string{}
	for _, st := range children(a, nsAssertion, "AttributeStatement") {
		for _, at := range children(st, nsAssertion, "Attribute") {
			full := attr(at, "Name")
			key := normalizeAttrName(full)
			if key == "" {
				return refuse(CodeMalformed, "an Attribute has no Name")
			}
			if prev, dup := origin[key]; dup {
				return refuse(CodeMalformed, "the attributes %q and %q both mean %q; which one counts would be ambiguous", prev, full, key)
			}
			origin[key] = full
			values := []string{}
			for _, v := range children(at, nsAssertion, "AttributeValue") {
				if nilAttr := v.SelectAttrValue("xsi:nil", ""); nilAttr == "true" || nilAttr == "1" {
					continue
				}
				values = append(values, rawText(v))
			}
			out.Attributes[key] = values
			out.AttributeList = append(out.AttributeList, Attribute{Name: full, Key: key, Values: values})
		}
	}
	single := func(key string) (string, *Refusal) {
		vs := out.Attributes[key]
		switch len(vs) {
		case 0:
			return "", nil
		case 1:
			return vs[0], nil
		default:
			return "", refuse(CodeMalformed, "the attribute %q has %d values; one is expected", origin[key], len(vs))
		}
	}
	var r *Refusal
	if out.ObjectID, r = single("objectidentifier"); r != nil {
		return r
	}
	if out.Name, r = single("name"); r != nil {
		return r
	}
	if out.DisplayName, r = single("displayname"); r != nil {
		return r
	}
	out.DisplayName = strings.TrimSpace(out.DisplayName)
	for _, g := range out.Attributes["groups"] {
		out.Groups = append(out.Groups, strings.TrimSpace(g))
	}
	_, out.GroupsOverage = out.Attributes["groups.link"]
	return nil
}
