package scim

import (
	"strings"
)

// projection implements the "attributes" and "excludedAttributes" query
// parameters (RFC 7644 §3.4.2.5, also on POST/PUT/PATCH responses §3.9).
type projection struct {
	include *projNode // nil: not given
	exclude *projNode
}

type projNode struct {
	all      bool
	children map[string]*projNode
}

func (n *projNode) child(name string) *projNode {
	if n.children == nil {
		n.children = map[string]*projNode{}
	}
	c := n.children[name]
	if c == nil {
		c = &projNode{}
		n.children[name] = c
	}
	return c
}

// parseProjection reads the two comma-separated lists. Unknown attribute
// names are ignored: asking for an attribute we do not have is not an error.
// When both are given, "attributes" wins.
func parseProjection(rt *resourceType, attributes, excluded string) *projection {
	p := &projection{}
	if strings.TrimSpace(attributes) != "" {
		p.include = buildProjTree(rt, attributes)
	} else if strings.TrimSpace(excluded) != "" {
		p.exclude = buildProjTree(rt, excluded)
	}
	return p
}

func buildProjTree(rt *resourceType, list string) *projNode {
	root := &projNode{}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		steps, ok := resolveAttrList(rt, item)
		if !ok {
			continue
		}
		n := root
		for _, s := range steps {
			n = n.child(s.Name)
		}
		n.all = true
	}
	return root
}

// resolveAttrList resolves "name", "name.sub", "urn:…:name[.sub]" or an
// extension URN by itself.
func resolveAttrList(rt *resourceType, item string) ([]*attr, bool) {
	if ext := rt.extension(item); ext != nil {
		return []*attr{extRoots[ext]}, true
	}
	uri, rest := "", item
	if i := strings.LastIndex(item, ":"); i >= 0 {
		uri, rest = item[:i], item[i+1:]
	}
	name, sub, _ := strings.Cut(rest, ".")
	steps, err := rt.resolveSteps(uri, name, sub)
	if err != nil {
		return nil, false
	}
	return steps, true
}

// wants reports whether the top-level attribute name is part of the output,
// so that computed attributes (groups, members) are only loaded when needed.
func (p *projection) wants(name string) bool {
	if p == nil {
		return true
	}
	if p.include != nil {
		_, ok := p.include.children[name]
		return ok
	}
	if p.exclude != nil {
		if c, ok := p.exclude.children[name]; ok && c.all {
			return false
		}
	}
	return true
}

// apply projects a rendered resource in place.
func (p *projection) apply(rt *resourceType, res map[string]any) {
	if p == nil {
		return
	}
	if p.include != nil {
		includeLevel(topDefs(rt), res, p.include, true)
	} else if p.exclude != nil {
		excludeLevel(topDefs(rt), res, p.exclude)
	}
}

// topDefs lists the attributes at the top of a resource: core and extension roots.
func topDefs(rt *resourceType) []*attr {
	defs := append([]*attr(nil), rt.Core.Attrs...)
	for _, ext := range rt.Extensions {
		defs = append(defs, extRoots[ext])
	}
	return defs
}

func includeLevel(defs []*attr, m map[string]any, n *projNode, top bool) {
	for k, v := range m {
		if top && k == "schemas" {
			continue
		}
		a := findAttr(defs, k)
		if a != nil && a.Returned == retAlways {
			continue
		}
		c, ok := n.children[k]
		switch {
		case !ok:
			delete(m, k)
		case c.all || a == nil || a.Type != tComplex:
			// keep whole
		default:
			projectComplex(a, m, k, v, func(sub map[string]any) { includeLevel(a.Sub, sub, c, false) })
		}
	}
}

func excludeLevel(defs []*attr, m map[string]any, n *projNode) {
	for k, c := range n.children {
		v, ok := m[k]
		if !ok {
			continue
		}
		a := findAttr(defs, k)
		if a != nil && a.Returned == retAlways {
			continue
		}
		if c.all || a == nil || a.Type != tComplex {
			delete(m, k)
			continue
		}
		projectComplex(a, m, k, v, func(sub map[string]any) { excludeLevel(a.Sub, sub, c) })
	}
}

// projectComplex applies fn to the complex value (or each element of the
// multi-valued one) at m[k], dropping what becomes empty.
func projectComplex(a *attr, m map[string]any, k string, v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		cp := make(map[string]any, len(x))
		for kk, vv := range x {
			cp[kk] = vv
		}
		fn(cp)
		if len(cp) == 0 {
			delete(m, k)
		} else {
			m[k] = cp
		}
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			em, ok := e.(map[string]any)
			if !ok {
				continue
			}
			cp := make(map[string]any, len(em))
			for kk, vv := range em {
				cp[kk] = vv
			}
			fn(cp)
			if len(cp) > 0 {
				out = append(out, cp)
			}
		}
		if len(out) == 0 {
			delete(m, k)
		} else {
			m[k] = out
		}
	}
}
