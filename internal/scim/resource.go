package scim

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"golang.org/x/text/cases"
)

// Resources are handled as canonical maps: keys spelled as the schema spells
// them, extension attributes under their schema URN, values of type string,
// bool, json.Number, map[string]any (complex) or []any (multi-valued).
// Unassigned values (null, "", [], {}) are absent, never stored.

// fold normalises a case-insensitive string for comparison and for the
// *_norm columns (Unicode case folding, not just ASCII lower-casing).
var folder = cases.Fold()

func fold(s string) string {
	// Fast path: ASCII without upper-case letters is already folded.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || (c >= 'A' && c <= 'Z') {
			return folder.String(s)
		}
	}
	return s
}

// lookupCI returns the value of key in m, matching attribute names
// case-insensitively (RFC 7643 §2.1).
func lookupCI(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// checkSchemas validates the "schemas" attribute of a POST/PUT body.
func checkSchemas(rt *resourceType, in map[string]any) error {
	raw, ok := lookupCI(in, "schemas")
	if !ok || raw == nil {
		return badRequest(ErrInvalidSyntax, "the \"schemas\" attribute is required and must contain %q", rt.Core.ID)
	}
	list, ok := raw.([]any)
	if !ok {
		return badRequest(ErrInvalidSyntax, "\"schemas\" must be an array of schema URNs")
	}
	found := false
	for _, s := range list {
		u, ok := s.(string)
		if !ok {
			return badRequest(ErrInvalidSyntax, "\"schemas\" must be an array of schema URNs")
		}
		if strings.EqualFold(u, rt.Core.ID) {
			found = true
		}
	}
	if !found {
		return badRequest(ErrInvalidValue, "\"schemas\" must contain %q for a %s resource", rt.Core.ID, rt.Name)
	}
	return nil
}

// normalizeResource turns a POST/PUT body into the canonical stored form:
// read-only attributes (id, meta, groups) are ignored as RFC 7643 §7 says,
// unknown attributes are ignored, the password is dropped, values are
// type-checked (Entra's "True"/"False" strings become booleans).
func normalizeResource(rt *resourceType, in map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(in))
	seen := make(map[string]string, len(in))
	for k, v := range in {
		if strings.EqualFold(k, "schemas") {
			continue
		}
		if ext := rt.extension(k); ext != nil {
			if prev, dup := seen[ext.ID]; dup {
				return nil, badRequest(ErrInvalidSyntax, "attribute %q given twice (as %q and %q)", ext.ID, prev, k)
			}
			seen[ext.ID] = k
			if v == nil {
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, badRequest(ErrInvalidValue, "%s must be an object", ext.ID)
			}
			em, err := normalizeAttrs(ext.Attrs, m, ext.ID+":")
			if err != nil {
				return nil, err
			}
			if len(em) > 0 {
				out[ext.ID] = em
			}
			continue
		}
		a := rt.Core.attr(k)
		if a == nil {
			continue // unknown attributes are ignored
		}
		if prev, dup := seen[a.Name]; dup {
			return nil, badRequest(ErrInvalidSyntax, "attribute %q given twice (as %q and %q)", a.Name, prev, k)
		}
		seen[a.Name] = k
		if a.Mutability == mutReadOnly {
			continue
		}
		if a.Mutability == mutWriteOnly {
			if _, _, err := normalizeValue(a, v, a.Name); err != nil {
				return nil, err
			}
			continue
		}
		nv, ok, err := normalizeValue(a, v, a.Name)
		if err != nil {
			return nil, err
		}
		if ok {
			out[a.Name] = nv
		}
	}
	return out, nil
}

// normalizeAttrs normalises the sub-attributes (or extension attributes) of
// one complex value.
func normalizeAttrs(defs []*attr, in map[string]any, prefix string) (map[string]any, error) {
	out := make(map[string]any, len(in))
	seen := make(map[string]string, len(in))
	for k, v := range in {
		a := findAttr(defs, k)
		if a == nil {
			continue
		}
		if prev, dup := seen[a.Name]; dup {
			return nil, badRequest(ErrInvalidSyntax, "attribute %q given twice (as %q and %q)", prefix+a.Name, prev, k)
		}
		seen[a.Name] = k
		if a.Mutability == mutReadOnly || a.Mutability == mutWriteOnly {
			continue
		}
		nv, ok, err := normalizeValue(a, v, prefix+a.Name)
		if err != nil {
			return nil, err
		}
		if ok {
			out[a.Name] = nv
		}
	}
	return out, nil
}

// normalizeValue checks v against a and returns its canonical form; ok is
// false when v is unassigned.
func normalizeValue(a *attr, v any, path string) (any, bool, error) {
	if v == nil {
		return nil, false, nil
	}
	if !a.Multi {
		return normalizeSingle(a, v, path)
	}
	list, isList := v.([]any)
	if !isList {
		list = []any{v} // a lone value for a multi-valued attribute
	}
	out := make([]any, 0, len(list))
	for i, e := range list {
		ev, ok, err := normalizeSingle(a, e, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, false, err
		}
		if ok {
			out = append(out, ev)
		}
	}
	if len(out) == 0 {
		return nil, false, nil
	}
	if err := checkPrimary(a, out, path); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// checkPrimary enforces RFC 7643 §2.4: "primary" true at most once.
func checkPrimary(a *attr, list []any, path string) error {
	if a.sub("primary") == nil {
		return nil
	}
	n := 0
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["primary"] == true {
			n++
		}
	}
	if n > 1 {
		return badRequest(ErrInvalidValue, "%s: at most one value may have \"primary\": true", path)
	}
	return nil
}

func normalizeSingle(a *attr, v any, path string) (any, bool, error) {
	if v == nil {
		return nil, false, nil
	}
	switch a.Type {
	case tString, tReference, tBinary:
		s, ok := v.(string)
		if !ok {
			return nil, false, badRequest(ErrInvalidValue, "%s must be a string, not %s", path, jsonKind(v))
		}
		if s == "" {
			return nil, false, nil
		}
		return s, true, nil
	case tBoolean:
		b, ok := asBool(v)
		if !ok {
			return nil, false, badRequest(ErrInvalidValue, "%s must be a boolean, not %s", path, jsonKind(v))
		}
		return b, true, nil
	case tInteger:
		n, ok := v.(json.Number)
		if !ok {
			return nil, false, badRequest(ErrInvalidValue, "%s must be an integer, not %s", path, jsonKind(v))
		}
		if _, err := n.Int64(); err != nil {
			return nil, false, badRequest(ErrInvalidValue, "%s must be an integer", path)
		}
		return n, true, nil
	case tDecimal:
		n, ok := v.(json.Number)
		if !ok {
			return nil, false, badRequest(ErrInvalidValue, "%s must be a number, not %s", path, jsonKind(v))
		}
		if f, err := n.Float64(); err != nil || math.IsInf(f, 0) {
			return nil, false, badRequest(ErrInvalidValue, "%s must be a number", path)
		}
		return n, true, nil
	case tDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, false, badRequest(ErrInvalidValue, "%s must be a dateTime string, not %s", path, jsonKind(v))
		}
		if _, err := parseDateTime(s); err != nil {
			return nil, false, badRequest(ErrInvalidValue, "%s: %q is not an xsd:dateTime (e.g. 2024-05-01T12:00:00Z)", path, s)
		}
		return s, true, nil
	case tComplex:
		m, ok := v.(map[string]any)
		if !ok {
			// Entra sends manager as a bare id; treat a string as the "value"
			// sub-attribute where there is one.
			if s, isStr := v.(string); isStr && a.sub("value") != nil {
				m = map[string]any{"value": s}
			} else {
				return nil, false, badRequest(ErrInvalidValue, "%s must be an object, not %s", path, jsonKind(v))
			}
		}
		out, err := normalizeAttrs(a.Sub, m, path+".")
		if err != nil {
			return nil, false, err
		}
		if len(out) == 0 {
			return nil, false, nil
		}
		return out, true, nil
	}
	return nil, false, badRequest(ErrInvalidValue, "%s: unsupported attribute type", path)
}

// asBool accepts JSON booleans and, for Entra ID, the strings "True"/"False"
// in any case.
func asBool(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch {
		case strings.EqualFold(b, "true"):
			return true, true
		case strings.EqualFold(b, "false"):
			return false, true
		}
	}
	return false, false
}

func parseDateTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// checkRequired reports a missing required attribute (userName, displayName).
func checkRequired(rt *resourceType, res map[string]any) error {
	for _, a := range rt.Core.Attrs {
		if a.Required && !a.common {
			if _, ok := res[a.Name]; !ok {
				return badRequest(ErrInvalidValue, "%s is required", a.Name)
			}
		}
	}
	return nil
}

// deepCopy copies a canonical value so PATCH can work on a scratch copy.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// valueEqual compares two canonical values; strings of attributes that are
// not caseExact compare case-insensitively.
func valueEqual(a *attr, x, y any) bool {
	switch xv := x.(type) {
	case string:
		yv, ok := y.(string)
		if !ok {
			return false
		}
		if a != nil && !a.CaseExact && (a.Type == tString) {
			return fold(xv) == fold(yv)
		}
		return xv == yv
	case map[string]any:
		yv, ok := y.(map[string]any)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for k, e := range xv {
			var sa *attr
			if a != nil {
				sa = a.sub(k)
			}
			if !valueEqual(sa, e, yv[k]) {
				return false
			}
		}
		return true
	case []any:
		yv, ok := y.([]any)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for i := range xv {
			if !valueEqual(a, xv[i], yv[i]) {
				return false
			}
		}
		return true
	case json.Number:
		yv, ok := y.(json.Number)
		if !ok {
			return false
		}
		xf, _ := xv.Float64()
		yf, _ := yv.Float64()
		return xf == yf
	}
	return x == y
}
