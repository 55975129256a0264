package scim

import (
	"reflect"
	"sort"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// maxPatchOps bounds one PATCH request (the body limit bounds it too).
const maxPatchOps = 10000

type patchOp struct {
	op       string // "add", "replace" or "remove"
	path     string
	hasPath  bool
	value    any
	hasValue bool
}

// parsePatch reads a PatchOp message (RFC 7644 §3.5.2). Op names are
// matched case-insensitively: Entra ID sends "Add", "Replace", "Remove".
func parsePatch(body map[string]any) ([]patchOp, error) {
	raw, ok := lookupCI(body, "schemas")
	if !ok {
		return nil, badRequest(ErrInvalidSyntax, "the \"schemas\" attribute is required and must contain %q", URNPatchOp)
	}
	list, _ := raw.([]any)
	found := false
	for _, s := range list {
		if u, ok := s.(string); ok && strings.EqualFold(u, URNPatchOp) {
			found = true
		}
	}
	if !found {
		return nil, badRequest(ErrInvalidSyntax, "\"schemas\" must contain %q", URNPatchOp)
	}
	rawOps, ok := lookupCI(body, "Operations")
	if !ok {
		return nil, badRequest(ErrInvalidSyntax, "\"Operations\" is required")
	}
	opsList, ok := rawOps.([]any)
	if !ok {
		return nil, badRequest(ErrInvalidSyntax, "\"Operations\" must be an array")
	}
	if len(opsList) == 0 {
		return nil, badRequest(ErrInvalidSyntax, "\"Operations\" is empty")
	}
	if len(opsList) > maxPatchOps {
		return nil, badRequest(ErrTooMany, "at most %d operations per request", maxPatchOps)
	}
	ops := make([]patchOp, 0, len(opsList))
	for i, o := range opsList {
		m, ok := o.(map[string]any)
		if !ok {
			return nil, badRequest(ErrInvalidSyntax, "Operations[%d] must be an object", i)
		}
		var op patchOp
		name, _ := lookupCI(m, "op")
		s, ok := name.(string)
		if !ok {
			return nil, badRequest(ErrInvalidSyntax, "Operations[%d].op must be \"add\", \"replace\" or \"remove\"", i)
		}
		op.op = strings.ToLower(s)
		switch op.op {
		case "add", "replace", "remove":
		default:
			return nil, badRequest(ErrInvalidSyntax, "Operations[%d].op %q is not \"add\", \"replace\" or \"remove\"", i, s)
		}
		if p, ok := lookupCI(m, "path"); ok && p != nil {
			ps, ok := p.(string)
			if !ok {
				return nil, badRequest(ErrInvalidPath, "Operations[%d].path must be a string", i)
			}
			op.path = strings.TrimSpace(ps)
			op.hasPath = op.path != ""
		}
		op.value, op.hasValue = lookupCI(m, "value")
		if op.op != "remove" && !op.hasValue {
			return nil, badRequest(ErrInvalidValue, "Operations[%d] (%s) needs a \"value\"", i, op.op)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// patcher applies operations to a canonical resource (a scratch copy).
// For groups, operations on "members" go to members instead.
type patcher struct {
	rt      *resourceType
	res     map[string]any
	members *memberPatch
}

func (p *patcher) apply(op patchOp) error {
	if !op.hasPath {
		if op.op == "remove" {
			return badRequest(ErrNoTarget, "remove needs a \"path\"")
		}
		m, ok := op.value.(map[string]any)
		if !ok {
			return badRequest(ErrInvalidValue, "without a \"path\", the value of %s must be an object of attributes", op.op)
		}
		// Sorted, so "name" is applied before "name.givenName".
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if strings.EqualFold(k, "schemas") {
				continue
			}
			if err := checkText("attribute name", k); err != nil {
				return badRequest(ErrInvalidPath, "%v", err)
			}
			fp, err := parsePathExpr(k)
			if err != nil {
				return badRequest(ErrInvalidPath, "attribute name %q in the value: %s", k, syntaxMessage("attribute name", err))
			}
			if err := p.applyAt(op.op, fp, k, m[k], true, true); err != nil {
				return err
			}
		}
		return nil
	}
	if len(op.path) > maxFilterLen {
		return badRequest(ErrInvalidPath, "the path is longer than %d bytes", maxFilterLen)
	}
	if err := checkText("path", op.path); err != nil {
		return badRequest(ErrInvalidPath, "%v", err)
	}
	fp, err := parsePathExpr(op.path)
	if err != nil {
		return badRequest(ErrInvalidPath, "path %q: %s", op.path, syntaxMessage("path", err))
	}
	return p.applyAt(op.op, fp, op.path, op.value, op.hasValue, false)
}

// applyAt applies one operation at a parsed path. inValue is true for the
// keys of a path-less value object, where read-only and unknown attributes
// are skipped (Okta sends the whole resource, id included).
func (p *patcher) applyAt(op string, fp filter.Path, raw string, value any, hasValue, inValue bool) error {
	ap := fp.AttributePath
	steps, err := p.rt.resolveSteps(ap.URI(), ap.AttributeName, ap.SubAttributeName())
	if err != nil {
		if inValue {
			return nil
		}
		return badRequest(ErrInvalidPath, "%s: %v", raw, err)
	}
	top := steps[0]
	for _, s := range steps {
		if s.Mutability == mutReadOnly {
			if inValue {
				return nil
			}
			return badRequest(ErrMutability, "%s is read-only", pathName(steps))
		}
	}
	if p.members != nil && top.Name == "members" {
		return p.members.apply(p.rt, op, fp, steps, raw, value, hasValue)
	}
	last := steps[len(steps)-1]
	if last.Mutability == mutWriteOnly {
		// The password: checked, never stored.
		if op != "remove" {
			if _, _, err := normalizeValue(last, value, pathName(steps)); err != nil {
				return err
			}
		}
		return nil
	}
	if fp.ValueExpression != nil {
		return applyFiltered(p.res, op, fp, steps, raw, value)
	}
	return applySimple(p.res, op, steps, value, hasValue)
}

// applySimple handles a path without a value filter.
func applySimple(res map[string]any, op string, steps []*attr, value any, hasValue bool) error {
	name := pathName(steps)
	// A multi-valued attribute in the middle ("emails.value"): apply to
	// every element.
	for i := 0; i < len(steps)-1; i++ {
		if steps[i].Multi {
			return applyEach(res, op, steps[:i+1], steps[i+1:], value)
		}
	}
	holder := res
	for _, s := range steps[:len(steps)-1] {
		holder = childMap(holder, s.Name, op != "remove")
		if holder == nil {
			return nil // removing below an absent attribute
		}
	}
	leaf := steps[len(steps)-1]
	switch op {
	case "remove":
		if leaf.Multi && hasValue && value != nil {
			// Entra ID: {"op":"Remove","path":"members","value":[{"value":"…"}]}
			// removes the listed values only.
			nv, ok, err := normalizeValue(leaf, value, name)
			if err != nil {
				return err
			}
			if ok {
				holder[leaf.Name] = removeValues(leaf, asList(holder[leaf.Name]), nv.([]any))
			}
		} else {
			delete(holder, leaf.Name)
		}
	case "add", "replace":
		nv, ok, err := normalizeValue(leaf, value, name)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			if op == "replace" {
				delete(holder, leaf.Name)
			}
		case leaf.Multi && op == "add":
			holder[leaf.Name] = mergeValues(leaf, asList(holder[leaf.Name]), nv.([]any))
		case leaf.Multi:
			holder[leaf.Name] = nv
		case leaf.Type == tComplex:
			// Sub-attributes not given are left unchanged (RFC 7644 §3.5.2.1/3).
			cur := childMap(holder, leaf.Name, true)
			for k, v := range nv.(map[string]any) {
				cur[k] = v
			}
		default:
			holder[leaf.Name] = nv
		}
	}
	prune(res)
	return nil
}

// applyEach handles "multi.sub" without a filter: every element's sub.
func applyEach(res map[string]any, op string, multiSteps, rest []*attr, value any) error {
	holder := res
	for _, s := range multiSteps[:len(multiSteps)-1] {
		holder = childMap(holder, s.Name, op != "remove")
		if holder == nil {
			return nil
		}
	}
	a := multiSteps[len(multiSteps)-1]
	list := asList(holder[a.Name])
	if op == "remove" {
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				_ = applySimple(m, "remove", rest, nil, false)
			}
		}
		holder[a.Name] = list
		prune(res)
		return nil
	}
	if len(list) == 0 {
		list = []any{map[string]any{}}
	}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if err := applySimple(m, "replace", rest, value, true); err != nil {
				return err
			}
		}
	}
	holder[a.Name] = list
	if err := checkPrimary(a, list, a.Name); err != nil {
		return err
	}
	prune(res)
	return nil
}

// applyFiltered handles "attr[filter]" and "attr[filter].sub".
func applyFiltered(res map[string]any, op string, fp filter.Path, steps []*attr, raw string, value any) error {
	a := steps[len(steps)-1]
	if a.Type != tComplex || len(steps) > 2 || (len(steps) == 2 && steps[0].Type != tComplex) {
		return badRequest(ErrInvalidPath, "%s: a value filter [...] needs a multi-valued complex attribute", raw)
	}
	c := &compiler{rt: nil, uses: map[string]bool{}}
	match, err := c.compile(fp.ValueExpression, a)
	if err != nil {
		if e, ok := asError(err); ok {
			return badRequest(ErrInvalidPath, "%s: %s", raw, e.Detail)
		}
		return err
	}
	var sa *attr
	if fp.SubAttribute != nil {
		sa = a.sub(*fp.SubAttribute)
		if sa == nil {
			return badRequest(ErrInvalidPath, "%s: %s has no sub-attribute %q", raw, a.Name, *fp.SubAttribute)
		}
		if sa.Mutability == mutReadOnly {
			return badRequest(ErrMutability, "%s is read-only", raw)
		}
	}
	holder := res
	if len(steps) == 2 {
		holder = childMap(res, steps[0].Name, op != "remove")
		if holder == nil {
			return nil
		}
	}
	list := asList(holder[a.Name])
	var hits []map[string]any
	keep := list[:0:0]
	for _, e := range list {
		m, ok := e.(map[string]any)
		if ok && match(m) {
			hits = append(hits, m)
			if op == "remove" && sa == nil {
				continue
			}
		}
		keep = append(keep, e)
	}
	if op == "remove" {
		if sa != nil {
			for _, m := range hits {
				delete(m, sa.Name)
			}
		}
		setList(holder, a, keep)
		prune(res)
		return nil
	}
	// add / replace
	var nv any
	var ok bool
	if sa != nil {
		nv, ok, err = normalizeValue(sa, value, a.Name+"."+sa.Name)
	} else {
		nv, ok, err = normalizeSingle(a, value, a.Name)
	}
	if err != nil {
		return err
	}
	if len(hits) == 0 {
		// No element matches. RFC 7644 §3.5.2.3 asks for noTarget, but Entra
		// ID adds values this way ("emails[type eq \"work\"].value"), so
		// when the filter names the element exactly (eq on sub-attributes,
		// joined by and) the element is created; otherwise noTarget.
		seed, ok := eqSeed(fp.ValueExpression, a)
		if !ok {
			return badRequest(ErrNoTarget, "%s matches no value", raw)
		}
		list = append(list, seed)
		hits = []map[string]any{seed}
	}
	for _, m := range hits {
		switch {
		case sa != nil && !ok:
			delete(m, sa.Name)
		case sa != nil:
			m[sa.Name] = nv
		case ok:
			for k, v := range nv.(map[string]any) {
				m[k] = v
			}
		}
	}
	if len(hits) == 1 && hits[0]["primary"] == true {
		clearOtherPrimaries(list, hits[0])
	}
	setList(holder, a, list)
	if err := checkPrimary(a, asList(holder[a.Name]), a.Name); err != nil {
		return err
	}
	prune(res)
	return nil
}

// eqSeed builds the element a filter like `type eq "work" and primary eq
// true` describes; ok is false for any other filter.
func eqSeed(e filter.Expression, a *attr) (map[string]any, bool) {
	seed := map[string]any{}
	var walk func(filter.Expression) bool
	walk = func(e filter.Expression) bool {
		switch x := e.(type) {
		case *filter.LogicalExpression:
			return strings.EqualFold(string(x.Operator), "and") && walk(x.Left) && walk(x.Right)
		case *filter.AttributeExpression:
			if !strings.EqualFold(string(x.Operator), "eq") || x.AttributePath.SubAttribute != nil || x.AttributePath.URIPrefix != nil {
				return false
			}
			sa := a.sub(x.AttributePath.AttributeName)
			if sa == nil || sa.Mutability == mutReadOnly {
				return false
			}
			cv := x.CompareValue
			if s, ok := cv.(string); ok {
				u, err := unescape(s)
				if err != nil {
					return false
				}
				cv = u
			}
			v, ok, err := normalizeSingle(sa, cv, sa.Name)
			if err != nil || !ok {
				return false
			}
			seed[sa.Name] = v
			return true
		}
		return false
	}
	if !walk(e) {
		return nil, false
	}
	return seed, true
}

func asList(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	}
	return []any{v}
}

func setList(holder map[string]any, a *attr, list []any) {
	if !a.Multi {
		if len(list) == 0 {
			delete(holder, a.Name)
		} else {
			holder[a.Name] = list[0]
		}
		return
	}
	holder[a.Name] = list
}

// childMap returns holder[name] as a map, creating it when create is set.
func childMap(holder map[string]any, name string, create bool) map[string]any {
	if m, ok := holder[name].(map[string]any); ok {
		return m
	}
	if !create {
		return nil
	}
	m := map[string]any{}
	holder[name] = m
	return m
}

// mergeValues appends values not already present (RFC 7644 §3.5.2.1: adding
// an existing value changes nothing); a new primary value takes the primary
// role from the others.
func mergeValues(a *attr, cur, add []any) []any {
	out := append([]any(nil), cur...)
	for _, v := range add {
		dup := false
		for _, e := range out {
			if valueEqual(a, e, v) {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		out = append(out, v)
		if m, ok := v.(map[string]any); ok && m["primary"] == true {
			clearOtherPrimaries(out, m)
		}
	}
	return out
}

func clearOtherPrimaries(list []any, winner map[string]any) {
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && !sameMap(m, winner) && m["primary"] == true {
			m["primary"] = false
		}
	}
}

// sameMap reports whether a and b are the same map (not equal contents).
func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// removeValues drops the elements of cur that equal one of del; complex
// values with a "value" sub-attribute are matched on it alone.
func removeValues(a *attr, cur, del []any) []any {
	out := cur[:0:0]
	for _, e := range cur {
		drop := false
		for _, d := range del {
			if sameValue(a, e, d) {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, e)
		}
	}
	return out
}

func sameValue(a *attr, e, d any) bool {
	em, eok := e.(map[string]any)
	dm, dok := d.(map[string]any)
	if eok && dok && a.sub("value") != nil {
		if dv, ok := dm["value"]; ok {
			return valueEqual(a.sub("value"), em["value"], dv)
		}
	}
	return valueEqual(a, e, d)
}

// prune removes unassigned values: empty maps and lists, at any depth.
func prune(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			prune(x)
			if len(x) == 0 {
				delete(m, k)
			}
		case []any:
			out := x[:0]
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					prune(em)
					if len(em) == 0 {
						continue
					}
				}
				if e == nil {
					continue
				}
				out = append(out, e)
			}
			if len(out) == 0 {
				delete(m, k)
			} else {
				m[k] = out
			}
		case nil:
			delete(m, k)
		}
	}
}
