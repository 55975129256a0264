package scim

import (
	"encoding/json"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"gatehouse/internal/account"
)

// maxFilterLen bounds the filter text: IdPs send short equality filters, and
// the parser backtracks, so an unbounded input is a cheap way to burn CPU.
const maxFilterLen = 4096

// docFunc returns true when a resource (or one element of a multi-valued
// attribute, inside a value filter) matches.
type docFunc func(doc map[string]any) bool

// compiledFilter is a filter ready to run over canonical documents (the
// stored resource plus id, meta and, when referenced, groups/members).
type compiledFilter struct {
	match docFunc
	// narrow holds equality conditions on indexed columns that every match
	// satisfies (the AND-ed top level); the store fetches only the rows
	// matching them and match decides the rest.
	narrow []sqlCond
	// uses records the top-level attributes the filter reads, so that the
	// list code computes groups/members only when a filter needs them.
	uses map[string]bool
}

type sqlCond struct {
	column string
	value  string
}

// parseFilter parses and compiles a filter for resource type rt.
func parseFilter(rt *resourceType, text string) (cf *compiledFilter, err error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, badRequest(ErrInvalidFilter, "the filter is empty")
	}
	if len(text) > maxFilterLen {
		return nil, badRequest(ErrInvalidFilter, "the filter is longer than %d bytes", maxFilterLen)
	}
	if err := checkText("filter", text); err != nil {
		return nil, badRequest(ErrInvalidFilter, "%v", err)
	}
	expr, err := parseFilterExpr(text)
	if err != nil {
		return nil, badRequest(ErrInvalidFilter, "%s", syntaxMessage("filter", err))
	}
	c := &compiler{rt: rt, uses: map[string]bool{}}
	m, err := c.compile(expr, nil)
	if err != nil {
		return nil, err
	}
	return &compiledFilter{match: m, narrow: c.narrow(expr), uses: c.uses}, nil
}

type compiler struct {
	rt   *resourceType
	uses map[string]bool
}

// compile builds the matcher; parent is nil at the top level of the
// resource and the multi-valued attribute inside a value filter.
func (c *compiler) compile(e filter.Expression, parent *attr) (docFunc, error) {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		l, err := c.compile(x.Left, parent)
		if err != nil {
			return nil, err
		}
		r, err := c.compile(x.Right, parent)
		if err != nil {
			return nil, err
		}
		switch strings.ToLower(string(x.Operator)) {
		case "and":
			return func(d map[string]any) bool { return l(d) && r(d) }, nil
		case "or":
			return func(d map[string]any) bool { return l(d) || r(d) }, nil
		}
		return nil, badRequest(ErrInvalidFilter, "unknown logical operator %q", x.Operator)
	case *filter.NotExpression:
		in, err := c.compile(x.Expression, parent)
		if err != nil {
			return nil, err
		}
		return func(d map[string]any) bool { return !in(d) }, nil
	case *filter.AttributeExpression:
		steps, err := c.resolve(x.AttributePath, parent)
		if err != nil {
			return nil, err
		}
		return compileCompare(steps, x.Operator, x.CompareValue)
	case *filter.ValuePath:
		if parent != nil {
			return nil, badRequest(ErrInvalidFilter, "value filters cannot be nested")
		}
		steps, err := c.resolve(x.AttributePath, nil)
		if err != nil {
			return nil, err
		}
		a := steps[len(steps)-1]
		if a.Type != tComplex {
			return nil, badRequest(ErrInvalidFilter, "%s is not a complex attribute; a value filter [...] needs one", a.Name)
		}
		inner, err := c.compile(x.ValueFilter, a)
		if err != nil {
			return nil, err
		}
		return func(d map[string]any) bool {
			for _, v := range collect(d, steps) {
				if m, ok := v.(map[string]any); ok && inner(m) {
					return true
				}
			}
			return false
		}, nil
	}
	return nil, badRequest(ErrInvalidFilter, "unsupported filter expression")
}

func (c *compiler) resolve(p filter.AttributePath, parent *attr) ([]*attr, error) {
	if parent != nil {
		if p.URIPrefix != nil || p.SubAttribute != nil {
			return nil, badRequest(ErrInvalidFilter, "inside %s[...] only sub-attributes of %s may be named, not %q", parent.Name, parent.Name, p.String())
		}
		a := parent.sub(p.AttributeName)
		if a == nil {
			return nil, badRequest(ErrInvalidFilter, "%s has no sub-attribute %q", parent.Name, p.AttributeName)
		}
		return []*attr{a}, nil
	}
	steps, err := c.rt.resolveSteps(p.URI(), p.AttributeName, p.SubAttributeName())
	if err != nil {
		return nil, badRequest(ErrInvalidFilter, "%v", err)
	}
	c.uses[steps[0].Name] = true
	return steps, nil
}

// collect returns every value found along steps in d, flattening
// multi-valued attributes at any level.
func collect(d map[string]any, steps []*attr) []any {
	cur := []any{d}
	for _, s := range steps {
		var next []any
		for _, v := range cur {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			x, ok := m[s.Name]
			if !ok || x == nil {
				continue
			}
			if l, ok := x.([]any); ok {
				next = append(next, l...)
			} else {
				next = append(next, x)
			}
		}
		cur = next
		if len(cur) == 0 {
			return nil
		}
	}
	return cur
}

// compileCompare builds the test for one "attrPath op value" expression.
func compileCompare(steps []*attr, op filter.CompareOperator, cv any) (docFunc, error) {
	leaf := steps[len(steps)-1]
	name := pathName(steps)
	if op == filter.PR {
		return func(d map[string]any) bool { return len(collect(d, steps)) > 0 }, nil
	}
	// A complex attribute compared directly means its "value" sub-attribute
	// (emails co "@example.com", RFC 7644 §3.4.2.2).
	if leaf.Type == tComplex {
		v := leaf.sub("value")
		if v == nil {
			return nil, badRequest(ErrInvalidFilter, "%s is a complex attribute; compare one of its sub-attributes", name)
		}
		steps = append(append([]*attr(nil), steps...), v)
		leaf = v
	}
	opName := strings.ToLower(string(op))
	if cv == nil {
		// "attr eq null" asks for an unassigned attribute.
		switch opName {
		case "eq":
			return func(d map[string]any) bool { return len(collect(d, steps)) == 0 }, nil
		case "ne":
			return func(d map[string]any) bool { return len(collect(d, steps)) > 0 }, nil
		}
		return nil, badRequest(ErrInvalidFilter, "null can only be compared with eq or ne")
	}
	negate := false
	if opName == "ne" {
		opName, negate = "eq", true
	}
	test, err := valueTest(leaf, name, opName, cv)
	if err != nil {
		return nil, err
	}
	return func(d map[string]any) bool {
		any := false
		for _, v := range collect(d, steps) {
			if test(v) {
				any = true
				break
			}
		}
		return any != negate
	}, nil
}

func pathName(steps []*attr) string {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name
	}
	return strings.Join(names, ".")
}

// identityPaths are the attributes that identify a person: their
// equality is the canonical one (account.IdentityKey), never Unicode case
// folding, so a filter for "ſam@corp.example" does not find
// "sam@corp.example" (an IdP that looks a user up before changing them
// would change the wrong one).
var identityPaths = map[string]bool{"userName": true, "emails.value": true}

func identityTest(want string) func(any) bool {
	key, err := account.IdentityKey(want)
	return func(v any) bool {
		x, ok := v.(string)
		if !ok {
			return false
		}
		if err != nil {
			return x == want
		}
		k, err := account.IdentityKey(x)
		return err == nil && k == key
	}
}

// valueTest compares one attribute value with the filter's value per the
// attribute's type and caseExact rule.
func valueTest(leaf *attr, name, op string, cv any) (func(any) bool, error) {
	switch leaf.Type {
	case tString, tReference, tBinary:
		s, ok := cv.(string)
		if !ok {
			return nil, badRequest(ErrInvalidFilter, "%s is a string; compare it with a quoted string", name)
		}
		s, err := unescape(s)
		if err != nil {
			return nil, err
		}
		if op == "eq" && identityPaths[name] {
			return identityTest(s), nil
		}
		exact := leaf.CaseExact
		if !exact {
			s = fold(s)
		}
		cmp, err := stringOp(op)
		if err != nil {
			return nil, err
		}
		return func(v any) bool {
			x, ok := v.(string)
			if !ok {
				return false
			}
			if !exact {
				x = fold(x)
			}
			return cmp(x, s)
		}, nil
	case tBoolean:
		b, ok := asBool(cv)
		if !ok {
			return nil, badRequest(ErrInvalidFilter, "%s is a boolean; compare it with true or false", name)
		}
		if op != "eq" {
			return nil, badRequest(ErrInvalidFilter, "%s is a boolean; only eq, ne and pr apply", name)
		}
		return func(v any) bool { x, ok := v.(bool); return ok && x == b }, nil
	case tDateTime:
		s, ok := cv.(string)
		if !ok {
			return nil, badRequest(ErrInvalidFilter, "%s is a dateTime; compare it with a quoted xsd:dateTime", name)
		}
		t, err := parseDateTime(s)
		if err != nil {
			return nil, badRequest(ErrInvalidFilter, "%q is not an xsd:dateTime (e.g. 2024-05-01T12:00:00Z)", s)
		}
		cmp, err := orderOp(op, name)
		if err != nil {
			return nil, err
		}
		return func(v any) bool {
			x, ok := v.(string)
			if !ok {
				return false
			}
			xt, err := parseDateTime(x)
			if err != nil {
				return false
			}
			return cmp(xt.Compare(t))
		}, nil
	case tInteger, tDecimal:
		n, ok := cv.(json.Number)
		if !ok {
			return nil, badRequest(ErrInvalidFilter, "%s is a number; compare it with a number", name)
		}
		f, err := n.Float64()
		if err != nil {
			return nil, badRequest(ErrInvalidFilter, "%s: %q is not a usable number", name, n)
		}
		cmp, err := orderOp(op, name)
		if err != nil {
			return nil, err
		}
		return func(v any) bool {
			n, ok := v.(json.Number)
			if !ok {
				return false
			}
			x, err := n.Float64()
			if err != nil {
				return false
			}
			switch {
			case x < f:
				return cmp(-1)
			case x > f:
				return cmp(1)
			}
			return cmp(0)
		}, nil
	}
	return nil, badRequest(ErrInvalidFilter, "%s cannot be compared", name)
}

func stringOp(op string) (func(x, s string) bool, error) {
	switch op {
	case "eq":
		return func(x, s string) bool { return x == s }, nil
	case "co":
		return strings.Contains, nil
	case "sw":
		return strings.HasPrefix, nil
	case "ew":
		return strings.HasSuffix, nil
	case "gt":
		return func(x, s string) bool { return x > s }, nil
	case "ge":
		return func(x, s string) bool { return x >= s }, nil
	case "lt":
		return func(x, s string) bool { return x < s }, nil
	case "le":
		return func(x, s string) bool { return x <= s }, nil
	}
	return nil, badRequest(ErrInvalidFilter, "unknown operator %q", op)
}

func orderOp(op, name string) (func(c int) bool, error) {
	switch op {
	case "eq":
		return func(c int) bool { return c == 0 }, nil
	case "gt":
		return func(c int) bool { return c > 0 }, nil
	case "ge":
		return func(c int) bool { return c >= 0 }, nil
	case "lt":
		return func(c int) bool { return c < 0 }, nil
	case "le":
		return func(c int) bool { return c <= 0 }, nil
	}
	return nil, badRequest(ErrInvalidFilter, "operator %q does not apply to %s", op, name)
}

// unescape decodes the JSON escapes the grammar accepts inside a quoted
// value (the parser only strips the quotes).
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return "", badRequest(ErrInvalidFilter, "bad escape in filter value %q", s)
	}
	return out, nil
}

// narrow extracts the indexed equality conditions that the whole filter
// implies: the comparisons joined by "and" at the top level.
func (c *compiler) narrow(e filter.Expression) []sqlCond {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		if strings.EqualFold(string(x.Operator), "and") {
			return append(c.narrow(x.Left), c.narrow(x.Right)...)
		}
	case *filter.AttributeExpression:
		if !strings.EqualFold(string(x.Operator), "eq") {
			return nil
		}
		s, ok := x.CompareValue.(string)
		if !ok {
			return nil
		}
		s, err := unescape(s)
		if err != nil {
			return nil
		}
		steps, err := c.rt.resolveSteps(x.AttributePath.URI(), x.AttributePath.AttributeName, x.AttributePath.SubAttributeName())
		if err != nil || len(steps) != 1 {
			return nil
		}
		switch steps[0].Name {
		case "id":
			return []sqlCond{{"id", s}}
		case "externalId":
			return []sqlCond{{"external_id", s}}
		case "userName":
			key, err := account.IdentityKey(s)
			if err != nil {
				key = " " // matches no row: no stored key has a space
			}
			return []sqlCond{{"user_name_norm", key}}
		case "displayName":
			return []sqlCond{{"display_name_norm", fold(s)}}
		}
	}
	return nil
}

// dateTime formats a stored instant the way SCIM returns it.
func dateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
