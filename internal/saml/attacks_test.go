package saml

import (
	"context"
	"database/sql"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"gatehouse/internal/ids"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// mustDoc parses xml for manipulation.
func mustDoc(t *testing.T, xml string) *etree.Document {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(xml); err != nil {
		t.Fatal(err)
	}
	return doc
}

func docString(t *testing.T, doc *etree.Document) string {
	t.Helper()
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// evilCopy returns a copy of the assertion a with its signature removed, a
// new NameID and (when newID) a new ID: the attacker's assertion.
func evilCopy(a *etree.Element, newID bool) *etree.Element {
	evil := a.Copy()
	if s := evil.SelectElement("Signature"); s != nil {
		evil.RemoveChild(s)
	}
	evil.FindElement("./Subject/NameID").SetText("admin@victim.example")
	for _, at := range evil.FindElements("./AttributeStatement/Attribute") {
		if at.SelectAttrValue("Name", "") == "name" {
			at.SelectElement("AttributeValue").SetText("admin@victim.example")
		}
	}
	if newID {
		evil.CreateAttr("ID", "_evil"+ids.New())
	}
	return evil
}

// xsw builds the eight classic XML signature wrapping permutations
// (Somorovsky et al., "On Breaking SAML", as named by SAML Raider) from a
// valid signed response. Each keeps the original signed element somewhere
// its signature still verifies, and puts the attacker's assertion where a
// naive SP would read it.
func xsw(t *testing.T, e *env, n int, reqID string) string {
	k := testKey(t, "idp")
	switch n {
	case 1, 2: // Response signed: clone the Response, wrap the original.
		doc := mustDoc(t, goSign(t, e.resp(reqID).xml(), k, true, false, false))
		orig := doc.Root()
		sig := orig.SelectElement("Signature")
		evil := orig.Copy()
		evil.RemoveChild(evil.SelectElement("Signature"))
		evil.CreateAttr("ID", "_evilresp")
		ea := evil.SelectElement("Assertion")
		evil.RemoveChild(ea)
		evil.AddChild(evilCopy(ea, true))
		wrapped := orig.Copy()
		wrapped.RemoveChild(wrapped.SelectElement("Signature"))
		sigCopy := sig.Copy()
		if n == 1 { // original Response inside the (original) signature
			obj := sigCopy.CreateElement("ds:Object")
			obj.AddChild(wrapped)
			evil.InsertChildAt(evil.SelectElement("Issuer").Index()+1, sigCopy)
		} else { // original Response before the signature, detached
			evil.InsertChildAt(evil.SelectElement("Issuer").Index()+1, wrapped)
			evil.InsertChildAt(wrapped.Index()+1, sigCopy)
		}
		out := etree.NewDocument()
		out.SetRoot(evil)
		return docString(t, out)
	}
	doc := mustDoc(t, goSign(t, e.resp(reqID).xml(), k, false, true, false))
	root := doc.Root()
	orig := root.SelectElement("Assertion")
	switch n {
	case 3: // unsigned evil assertion before the signed one
		root.InsertChildAt(orig.Index(), evilCopy(orig, true))
	case 4: // evil assertion wraps the original
		evil := evilCopy(orig, true)
		root.RemoveChild(orig)
		evil.AddChild(orig)
		root.AddChild(evil)
	case 5: // signed copy altered in place, pristine unsigned copy appended
		pristine := orig.Copy()
		pristine.RemoveChild(pristine.SelectElement("Signature"))
		orig.FindElement("./Subject/NameID").SetText("admin@victim.example")
		root.AddChild(pristine)
	case 6: // signed copy altered, pristine copy inside its signature
		pristine := orig.Copy()
		pristine.RemoveChild(pristine.SelectElement("Signature"))
		orig.FindElement("./Subject/NameID").SetText("admin@victim.example")
		orig.SelectElement("Signature").AddChild(pristine)
	case 7: // signed original moved into Extensions, evil one in its place
		evil := evilCopy(orig, false)
		root.RemoveChild(orig)
		ext := etree.NewElement("samlp:Extensions")
		ext.AddChild(orig)
		root.InsertChildAt(root.SelectElement("Issuer").Index()+1, ext)
		root.AddChild(evil)
	case 8: // evil assertion carries the signature, original in ds:Object
		evil := evilCopy(orig, false)
		sig := orig.SelectElement("Signature").Copy()
		pristine := orig.Copy()
		pristine.RemoveChild(pristine.SelectElement("Signature"))
		sig.CreateElement("ds:Object").AddChild(pristine)
		evil.InsertChildAt(evil.SelectElement("Issuer").Index()+1, sig)
		root.RemoveChild(orig)
		root.AddChild(evil)
	}
	return docString(t, doc)
}

func TestAttacksRefused(t *testing.T) {
	idpKey, attacker := testKey(t, "idp"), testKey(t, "attacker")
	type attack struct {
		name string
		code string
		// build returns the posted XML; it may also change e (clock, binding).
		build func(t *testing.T, e *env, reqID string) string
		// binding overrides the browser binding sent with the response.
		binding string
	}
	signed := func(mod func(r *resp)) func(t *testing.T, e *env, reqID string) string {
		return func(t *testing.T, e *env, reqID string) string {
			r := e.resp(reqID)
			mod(&r)
			return goSign(t, r.xml(), idpKey, false, true, false)
		}
	}
	attacks := []attack{
		{name: "unsigned", code: CodeSignatureMissing, build: func(t *testing.T, e *env, reqID string) string {
			return e.resp(reqID).xml()
		}},
		{name: "attacker key with attacker KeyInfo", code: CodeUnknownCertificate, build: func(t *testing.T, e *env, reqID string) string {
			return goSign(t, e.resp(reqID).xml(), attacker, true, true, false)
		}},
		{name: "attacker key, KeyInfo names the IdP certificate", code: CodeSignatureInvalid, build: func(t *testing.T, e *env, reqID string) string {
			s := goSign(t, e.resp(reqID).xml(), attacker, false, true, false)
			return strings.Replace(s, base64.StdEncoding.EncodeToString(attacker.cert.Raw), base64.StdEncoding.EncodeToString(idpKey.cert.Raw), 1)
		}},
		{name: "tampered after signing", code: CodeSignatureInvalid, build: func(t *testing.T, e *env, reqID string) string {
			return strings.Replace(goSign(t, e.resp(reqID).xml(), idpKey, false, true, false), "ada@example.com", "admin@example.com", 1)
		}},
		{name: "response signed, assertion tampered", code: CodeSignatureInvalid, build: func(t *testing.T, e *env, reqID string) string {
			return strings.Replace(goSign(t, e.resp(reqID).xml(), idpKey, true, false, false), "Ada Lovelace", "Eve", 1)
		}},
		{name: "two assertions", code: CodeMultipleAssertions, build: func(t *testing.T, e *env, reqID string) string {
			doc := mustDoc(t, goSign(t, e.resp(reqID).xml(), idpKey, false, true, false))
			second := mustDoc(t, goSign(t, e.resp(reqID).xml(), idpKey, false, true, false)).Root().SelectElement("Assertion")
			doc.Root().AddChild(second)
			return docString(t, doc)
		}},
		{name: "comment injection in NameID", code: CodeMalformed, build: func(t *testing.T, e *env, reqID string) string {
			r := e.resp(reqID)
			r.NameID = "ada@example.com.evil.test"
			s := goSign(t, r.xml(), idpKey, false, true, false)
			return strings.Replace(s, ">ada@example.com.evil.test<", ">ada@example.com<!---->.evil.test<", 1)
		}},
		{name: "SHA-1 signature", code: CodeWeakAlgorithm, build: func(t *testing.T, e *env, reqID string) string {
			return goSign(t, e.resp(reqID).xml(), idpKey, false, true, true)
		}},
		{name: "wrong audience", code: CodeAudienceMismatch, build: signed(func(r *resp) { r.Audience = "https://other-sp.test" })},
		{name: "wrong destination", code: CodeDestinationMismatch, build: signed(func(r *resp) { r.Destination = "https://other-sp.test/acs" })},
		{name: "signed response without destination", code: CodeDestinationMismatch, build: func(t *testing.T, e *env, reqID string) string {
			r := e.resp(reqID)
			r.Destination = ""
			return goSign(t, r.xml(), idpKey, true, false, false)
		}},
		{name: "wrong recipient", code: CodeRecipientMismatch, build: signed(func(r *resp) { r.Recipient = "https://other-sp.test/acs" })},
		{name: "wrong assertion issuer", code: CodeIssuerMismatch, build: signed(func(r *resp) { r.Issuer = "https://evil.test" })},
		{name: "wrong response issuer", code: CodeIssuerMismatch, build: signed(func(r *resp) { r.RespIssuer = "https://evil.test" })},
		{name: "unknown InResponseTo", code: CodeInResponseToUnknown, build: signed(func(r *resp) { r.InResponseTo, r.AssertionIRT = "_unknown", "_unknown" })},
		{name: "response and assertion InResponseTo differ", code: CodeInResponseToUnknown, build: signed(func(r *resp) { r.InResponseTo = "_other" })},
		{name: "unsolicited (no InResponseTo)", code: CodeInResponseToMissing, build: signed(func(r *resp) { r.InResponseTo, r.AssertionIRT = "", "" })},
		{name: "expired conditions", code: CodeExpired, build: signed(func(r *resp) { r.NotOnOrAfter = r.IssueInstant.Add(-4 * time.Minute) })},
		{name: "expired confirmation", code: CodeExpired, build: signed(func(r *resp) { r.SCDNotOnOrAfter = r.IssueInstant.Add(-4 * time.Minute) })},
		{name: "not yet valid", code: CodeNotYetValid, build: signed(func(r *resp) { r.NotBefore = r.IssueInstant.Add(4 * time.Minute) })},
		{name: "status not success", code: CodeStatusNotSuccess, build: signed(func(r *resp) { r.Status = "urn:oasis:names:tc:SAML:2.0:status:Requester" })},
		{name: "DOCTYPE", code: CodeDTDForbidden, build: func(t *testing.T, e *env, reqID string) string {
			return `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "ada@example.com">]>` + goSign(t, e.resp(reqID).xml(), idpKey, false, true, false)
		}},
		{name: "billion laughs", code: CodeDTDForbidden, build: func(t *testing.T, e *env, reqID string) string {
			return `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol2;</samlp:Response>`
		}},
		{name: "browser mismatch", code: CodeBrowserMismatch, binding: "another-browser-cookie-value", build: signed(func(r *resp) {})},
		{name: "request expired", code: CodeRequestExpired, build: func(t *testing.T, e *env, reqID string) string {
			e.now = e.now.Add(11 * time.Minute)
			r := e.resp(reqID)
			return goSign(t, r.xml(), idpKey, false, true, false)
		}},
		{name: "encrypted assertion", code: CodeEncryptedAssertion, build: func(t *testing.T, e *env, reqID string) string {
			s := e.resp(reqID).xml()
			i, j := strings.Index(s, "<saml:Assertion"), strings.Index(s, "</saml:Assertion>")+len("</saml:Assertion>")
			return s[:i] + `<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>` + s[j:]
		}},
		{name: "unknown condition", code: CodeUnsupportedCondition, build: func(t *testing.T, e *env, reqID string) string {
			s := strings.Replace(e.resp(reqID).xml(), "</saml:Conditions>", `<saml:Condition xsi:type="x:Whatever" xmlns:x="urn:x"/></saml:Conditions>`, 1)
			return goSign(t, s, idpKey, false, true, false)
		}},
		{name: "duplicate attribute names", code: CodeMalformed, build: signed(func(r *resp) {
			r.Attrs = append(r.Attrs, attribute{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", []string{"admin@example.com"}})
		})},
	}
	for n := 1; n <= 8; n++ {
		n := n
		// XSW5–8 keep the original assertion's ID on two elements.
		code := CodeMultipleAssertions
		if n >= 5 {
			code = CodeDuplicateID
		}
		attacks = append(attacks, attack{name: "XSW" + string(rune('0'+n)), code: code,
			build: func(t *testing.T, e *env, reqID string) string { return xsw(t, e, n, reqID) }})
	}
	db := testenv.SQLite(t)
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			e := newEnv(t, db)
			reqID, binding := e.start(t)
			xml := a.build(t, e, reqID)
			if a.binding != "" {
				binding = a.binding
			}
			_, err := e.consume(t, xml, binding)
			if got := refusalCode(err); got != a.code {
				t.Fatalf("got %s, want %s\n%v", got, a.code, err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// TestXSWWithoutStructuralChecks shows the second line of defence: with the
// duplicate-ID and one-assertion checks switched off, every wrapping
// permutation is still refused, or yields the identity the IdP signed —
// never the attacker's — because everything is read from the element the
// signature covers.
func TestXSWWithoutStructuralChecks(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	for n := 1; n <= 8; n++ {
		reqID, _ := e.start(t)
		xml := xsw(t, e, n, reqID)
		v, r := verifyResponseChecks([]byte(xml), e.sp, e.idp, e.now, defaultClockSkew, false)
		switch {
		case r != nil:
			t.Logf("XSW%d refused by the signature rules: %v", n, r)
		case v.assertion.NameID != "ada@example.com" || v.assertion.Name != "ada@example.com":
			t.Errorf("XSW%d: read the attacker's identity %q / %q", n, v.assertion.NameID, v.assertion.Name)
		default:
			t.Logf("XSW%d: read only the signed identity %q", n, v.assertion.NameID)
		}
	}
}

// TestCommentInNameIDReadInFull checks the reader itself: a comment inside
// NameID never truncates it (goxmldsig's canonical re-parse drops comments
// and joins the text; text() joins all character data).
func TestCommentInNameIDReadInFull(t *testing.T) {
	doc := mustDoc(t, `<a>ada@example.com<!-- x -->.evil.test</a>`)
	if got := text(doc.Root()); got != "ada@example.com.evil.test" {
		t.Fatalf("text = %q", got)
	}
	if doc.Root().Text() == "ada@example.com.evil.test" {
		t.Log("etree's Text now joins across comments too")
	}
}

func TestReplayAndAccounts(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		idpKey := testKey(t, "idp")
		e := newEnv(t, db)
		reqID, binding := e.start(t)
		xml := goSign(t, e.resp(reqID).xml(), idpKey, false, true, false)
		if _, err := e.consume(t, xml, binding); err != nil {
			t.Fatalf("first use refused: %v", err)
		}
		if _, err := e.consume(t, xml, binding); refusalCode(err) != CodeReplay {
			t.Fatalf("replay: got %v, want %s", err, CodeReplay)
		}
		// A new response (new assertion ID) for the used request.
		if _, err := e.consume(t, goSign(t, e.resp(reqID).xml(), idpKey, false, true, false), binding); refusalCode(err) != CodeRequestUsed {
			t.Fatalf("second response for a used request: got %v, want %s", err, CodeRequestUsed)
		}

		// Account B shares the IdP (same settings) but the request is A's.
		b := newEnv(t, db)
		b.idp = e.idp
		reqA, bindA := e.start(t)
		r := e.resp(reqA)
		r.Destination, r.Recipient, r.Audience = b.sp.ACSURL, b.sp.ACSURL, b.sp.EntityID
		_, err := b.consume(t, goSign(t, r.xml(), idpKey, false, true, false), bindA)
		if refusalCode(err) != CodeWrongAccount {
			t.Fatalf("A's request at B's ACS: got %v, want %s", err, CodeWrongAccount)
		}
		// And it stays usable by A with a response made for A.
		if _, err := e.consume(t, goSign(t, e.resp(reqA).xml(), idpKey, false, true, false), bindA); err != nil {
			t.Fatalf("A after B's refusal: %v", err)
		}

		// An assertion id already accepted, answering a fresh request (an
		// IdP reusing ids): a replay, and the request stays unconsumed —
		// the consumption and the replay record are one atomic write.
		reqD, bindD := e.start(t)
		first := e.resp(reqD)
		if _, err := e.consume(t, goSign(t, first.xml(), idpKey, false, true, false), bindD); err != nil {
			t.Fatalf("response for request D refused: %v", err)
		}
		reqC, bindC := e.start(t)
		again := e.resp(reqC)
		again.AssertionID = first.AssertionID
		if _, err := e.consume(t, goSign(t, again.xml(), idpKey, false, true, false), bindC); refusalCode(err) != CodeReplay {
			t.Fatalf("reused assertion id on a fresh request: got %v, want %s", err, CodeReplay)
		}
		var consumed sql.NullInt64
		if err := db.QueryRow(context.Background(), `SELECT consumed_at FROM saml_requests WHERE id = ?`, reqC).Scan(&consumed); err != nil || consumed.Valid {
			t.Fatalf("fresh request after the refused replay: consumed_at %v, %v; want unconsumed", consumed, err)
		}
	})
}

func TestStartLoginRedirect(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	binding := ids.Secret(16)
	redirect, reqID, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, PurposeDesktop, "att", binding)
	if err != nil {
		t.Fatal(err)
	}
	samlRequest, relay := requestFromRedirect(t, redirect)
	if len(relay) < 16 || strings.Contains(relay, e.account) || strings.Contains(relay, reqID) {
		t.Errorf("RelayState %q should be an opaque random value", relay)
	}
	xml := inflate(t, samlRequest)
	doc := mustDoc(t, xml)
	root := doc.Root()
	if !is(root, nsProtocol, "AuthnRequest") || attr(root, "ID") != reqID ||
		attr(root, "AssertionConsumerServiceURL") != e.sp.ACSURL || attr(root, "Destination") != e.idp.SSOURL ||
		attr(root, "ProtocolBinding") != BindingPOST {
		t.Fatalf("AuthnRequest:\n%s", xml)
	}
	if iss := children(root, nsAssertion, "Issuer"); len(iss) != 1 || text(iss[0]) != e.sp.EntityID {
		t.Fatalf("Issuer wrong:\n%s", xml)
	}
	if _, _, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, "other", "", binding); err == nil {
		t.Error("unknown purpose accepted")
	}
	if _, _, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, PurposePortal, "", "short"); err == nil {
		t.Error("weak browser binding accepted")
	}
}
