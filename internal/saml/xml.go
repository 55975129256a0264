package saml

import (
	"bytes"
	"strings"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// parseStrict parses outside XML under the rules every SAML document here
// follows: no DTD or entity declarations (checked on the bytes before any
// parser sees them, and again on the parsed tokens), XML that re-serialises
// to the same tokens (xml-roundtrip-validator: Go's encoding/xml has known
// namespace round-trip flaws that enable signature bypasses), no element
// with the same attribute twice, and no two elements sharing an ID.
func parseStrict(raw []byte) (*etree.Document, *Refusal) { return parseXML(raw, true) }

func parseXML(raw []byte, uniqueIDs bool) (*etree.Document, *Refusal) {
	if bytes.Contains(raw, []byte("<!DOCTYPE")) || bytes.Contains(raw, []byte("<!ENTITY")) {
		return nil, refuse(CodeDTDForbidden, "the XML contains a DTD or entity declaration (<!DOCTYPE/<!ENTITY), which is never accepted")
	}
	if errs := xrv.ValidateAll(bytes.NewReader(raw)); len(errs) > 0 {
		return nil, refuse(CodeMalformed, "XML does not round-trip safely: %v", errs[0])
	}
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, refuse(CodeMalformed, "not well-formed XML: %v", err)
	}
	for _, tok := range doc.Child {
		if _, ok := tok.(*etree.Directive); ok {
			return nil, refuse(CodeDTDForbidden, "the XML contains a <!…> directive, which is never accepted")
		}
	}
	if doc.Root() == nil {
		return nil, refuse(CodeMalformed, "the XML has no root element")
	}
	var ids map[string]bool
	if uniqueIDs {
		ids = map[string]bool{}
	}
	if r := checkTree(doc.Root(), ids); r != nil {
		return nil, r
	}
	return doc, nil
}

func checkTree(el *etree.Element, ids map[string]bool) *Refusal {
	for i, a := range el.Attr {
		for _, b := range el.Attr[:i] {
			if a.Space == b.Space && a.Key == b.Key {
				return refuse(CodeMalformed, "element <%s> has the attribute %q twice", el.FullTag(), a.FullKey())
			}
		}
		if a.Space == "" && a.Key == "ID" && ids != nil {
			if ids[a.Value] {
				return refuse(CodeDuplicateID, "two elements share the ID %q (signature wrapping?)", a.Value)
			}
			ids[a.Value] = true
		}
	}
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if r := checkTree(t, ids); r != nil {
				return r
			}
		case *etree.Directive:
			return refuse(CodeDTDForbidden, "the XML contains a <!…> directive, which is never accepted")
		}
	}
	return nil
}

// is reports whether el is the element {ns}local.
func is(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

// children returns the child elements {ns}local of el.
func children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if is(c, ns, local) {
			out = append(out, c)
		}
	}
	return out
}

// descendants returns every element {ns}local below el (el included).
func descendants(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		if is(e, ns, local) {
			out = append(out, e)
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(el)
	return out
}

// text returns all character data directly inside el, concatenated, with
// surrounding white space trimmed. Unlike etree's Text it does not stop at a
// comment, so "a<!---->b" reads as "ab", never "a".
func text(el *etree.Element) string {
	var b strings.Builder
	for _, tok := range el.Child {
		if cd, ok := tok.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

// rawText is the character data of el exactly as it is, for values that
// identify someone (never trimmed or otherwise changed).
func rawText(el *etree.Element) string {
	var b strings.Builder
	for _, tok := range el.Child {
		if cd, ok := tok.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		}
	}
	return b.String()
}

// hasComment reports whether any comment sits inside el.
func hasComment(el *etree.Element) *etree.Element {
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Comment:
			return el
		case *etree.Element:
			if e := hasComment(t); e != nil {
				return e
			}
		}
	}
	return nil
}

func attr(el *etree.Element, key string) string {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value
		}
	}
	return ""
}

func hasAttr(el *etree.Element, key string) bool {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return true
		}
	}
	return false
}

func name(el *etree.Element) string {
	if el == nil {
		return "(none)"
	}
	return "<" + el.FullTag() + ">"
}
