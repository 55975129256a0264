package scim

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"
)

// filter-parser v2.2.0 implements RFC 7644's grammar with three gaps this
// file closes before and after calling it:
//
//   - inside "attr[...]" it accepts only one or two comparisons, no
//     parentheses and no chains (`emails[type eq "work" and value co "@x"
//     and primary eq true]` is a parse error): each bracketed value filter
//     is cut out, replaced by a placeholder, parsed on its own with the full
//     filter grammar and put back into the tree;
//   - `\u` escapes must use upper-case hex digits: they are upper-cased;
//   - integers beyond int64 wrap around: numbers are parsed as json.Number.

// vfPrefix names the placeholders; it cannot collide with a schema
// attribute, and a client sending it gets "unknown attribute".
const vfPrefix = "gatehouseValueFilter"

const maxParens = 32

// prepare returns text with each bracketed value filter replaced by
// "[vfPrefixN pr]" and the bracket contents, and \u escapes upper-cased.
func prepare(text string) (string, []string, error) {
	var out strings.Builder
	var inner []string
	var cur strings.Builder // content of the current brackets
	depth, parens := 0, 0
	inString := false
	w := func(s string) {
		if depth > 0 {
			cur.WriteString(s)
		} else {
			out.WriteString(s)
		}
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case inString && c == '\\':
			if i+1 >= len(text) {
				return "", nil, syntaxError("a backslash ends the filter")
			}
			if text[i+1] == 'u' && i+5 < len(text) {
				w(`\u` + strings.ToUpper(text[i+2:i+6]))
				i += 5
				continue
			}
			w(text[i : i+2])
			i++
		case c == '"':
			inString = !inString
			w(`"`)
		case inString:
			w(text[i : i+1])
		case c == '(':
			// The parser backtracks on parentheses; IdPs nest one or two.
			if parens++; parens > maxParens {
				return "", nil, syntaxError(fmt.Sprintf("parentheses are nested deeper than %d", maxParens))
			}
			w("(")
		case c == ')':
			parens--
			w(")")
		case c == '[':
			if depth > 0 {
				return "", nil, syntaxError("value filters [...] cannot be nested")
			}
			depth = 1
			cur.Reset()
		case c == ']':
			if depth == 0 {
				return "", nil, syntaxError("a ']' has no '[' before it")
			}
			depth = 0
			fmt.Fprintf(&out, "[%s%d pr]", vfPrefix, len(inner))
			inner = append(inner, strings.TrimSpace(cur.String()))
		default:
			w(text[i : i+1])
		}
	}
	if inString {
		return "", nil, syntaxError("a quoted string is not closed")
	}
	if depth > 0 {
		return "", nil, syntaxError("a '[' is not closed")
	}
	return out.String(), inner, nil
}

// syntaxError is a filter or path problem described by this package, in
// words for the IdP's admin. Errors of the third-party parser are never
// shown: they name its internals ("expected op.Or or[func func …]") and
// echo raw bytes of the input; syntaxMessage replaces them.
type syntaxError string

func (e syntaxError) Error() string { return string(e) }

var conflictPos = regexp.MustCompile(`^parse conflict \[(\d+):(\d+)\]`)

// syntaxMessage is what a client reads for a filter (or path) that does
// not parse.
func syntaxMessage(what string, err error) string {
	var se syntaxError
	if errors.As(err, &se) {
		return "the " + what + " is not valid: " + string(se)
	}
	if m := conflictPos.FindStringSubmatch(err.Error()); m != nil {
		if col, err := strconv.Atoi(m[2]); err == nil {
			return fmt.Sprintf("the %s is not valid at character %d; write comparisons as attribute operator value (userName eq \"bjensen\"), joined by and, or, not and parentheses", what, col+1)
		}
	}
	return "the " + what + " is not valid; write comparisons as attribute operator value (userName eq \"bjensen\"), joined by and, or, not and parentheses"
}

// checkText refuses what no filter or path may contain: invalid UTF-8 and
// control characters (they would only come back as stray bytes).
func checkText(what, text string) error {
	if !utf8.ValidString(text) {
		return syntaxError("the " + what + " is not valid UTF-8")
	}
	for i, r := range text {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return syntaxError(fmt.Sprintf("the %s contains a control character (U+%04X) at byte %d", what, r, i))
		}
	}
	return nil
}

// parseFilterExpr parses a filter, turning a panic in the third-party parser
// into an error (a malformed filter must be a 400, never a crash).
func parseFilterExpr(text string) (expr filter.Expression, err error) {
	defer func() {
		if p := recover(); p != nil {
			expr, err = nil, fmt.Errorf("parser failure: %v", p)
		}
	}()
	outer, inner, err := prepare(strings.TrimSpace(text))
	if err != nil {
		return nil, err
	}
	e, err := filter.ParseFilterNumber([]byte(outer))
	if err != nil {
		return nil, err
	}
	vfs, err := parseInner(inner)
	if err != nil {
		return nil, err
	}
	return substitute(e, vfs)
}

// parsePathExpr parses a PATCH path the same way.
func parsePathExpr(text string) (p filter.Path, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = filter.Path{}, fmt.Errorf("parser failure: %v", r)
		}
	}()
	outer, inner, err := prepare(strings.TrimSpace(text))
	if err != nil {
		return filter.Path{}, err
	}
	p, err = filter.ParsePathNumber([]byte(outer))
	if err != nil {
		return filter.Path{}, err
	}
	vfs, err := parseInner(inner)
	if err != nil {
		return filter.Path{}, err
	}
	if p.ValueExpression != nil {
		if p.ValueExpression, err = placeholder(p.ValueExpression, vfs); err != nil {
			return filter.Path{}, err
		}
	}
	return p, nil
}

func parseInner(inner []string) ([]filter.Expression, error) {
	vfs := make([]filter.Expression, len(inner))
	for i, s := range inner {
		if s == "" {
			return nil, syntaxError("a value filter [] is empty")
		}
		e, err := filter.ParseFilterNumber([]byte(s))
		if err != nil {
			return nil, syntaxError("the value filter [...] number " + strconv.Itoa(i+1) + " is not valid")
		}
		vfs[i] = e
	}
	return vfs, nil
}

// placeholder returns the value filter a "vfPrefixN pr" stands for.
func placeholder(e filter.Expression, vfs []filter.Expression) (filter.Expression, error) {
	ae, ok := e.(*filter.AttributeExpression)
	if !ok || ae.Operator != filter.PR || ae.AttributePath.URIPrefix != nil || ae.AttributePath.SubAttribute != nil ||
		!strings.HasPrefix(ae.AttributePath.AttributeName, vfPrefix) {
		return nil, syntaxError("a value filter [...] is malformed")
	}
	n, err := strconv.Atoi(strings.TrimPrefix(ae.AttributePath.AttributeName, vfPrefix))
	if err != nil || n < 0 || n >= len(vfs) {
		return nil, syntaxError("a value filter [...] is malformed")
	}
	return vfs[n], nil
}

// substitute puts the separately parsed value filters back into the tree.
func substitute(e filter.Expression, vfs []filter.Expression) (filter.Expression, error) {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		l, err := substitute(x.Left, vfs)
		if err != nil {
			return nil, err
		}
		r, err := substitute(x.Right, vfs)
		if err != nil {
			return nil, err
		}
		return &filter.LogicalExpression{Left: l, Right: r, Operator: x.Operator}, nil
	case *filter.NotExpression:
		in, err := substitute(x.Expression, vfs)
		if err != nil {
			return nil, err
		}
		return &filter.NotExpression{Expression: in}, nil
	case *filter.ValuePath:
		vf, err := placeholder(x.ValueFilter, vfs)
		if err != nil {
			return nil, err
		}
		return &filter.ValuePath{AttributePath: x.AttributePath, ValueFilter: vf}, nil
	case *filter.AttributeExpression:
		if strings.HasPrefix(x.AttributePath.AttributeName, vfPrefix) {
			return nil, fmt.Errorf("unknown attribute %q", x.AttributePath.AttributeName)
		}
		return x, nil
	}
	return nil, syntaxError("the filter has an expression Gatehouse does not support")
}
