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

// prepared is a filter or path ready for the third-party parser.
type prepared struct {
	outer string   // the text with each value filter replaced by "[vfPrefixN pr]"
	pos   []int    // pos[k] is the offset in the original text of outer[k]
	inner []string // the value filters' contents
	at    []int    // at[i] is the offset in the original text of inner[i]
	end   []int    // end[i] is the offset of inner[i]'s closing ']'
}

// origin maps an offset in outer back to the original text.
func (p *prepared) origin(k int) int {
	switch {
	case len(p.pos) == 0:
		return 0
	case k < 0:
		return p.pos[0]
	case k >= len(p.pos):
		return p.pos[len(p.pos)-1] + 1
	}
	return p.pos[k]
}

// prepare replaces each bracketed value filter by "[vfPrefixN pr]" and
// upper-cases \u escapes. In a filter (inFilter), Entra's matching query
// `emails[type eq "work"].value eq "x"` — a comparison on a sub-attribute
// after a value filter, which RFC 7644's grammar does not have — is read as
// `emails[(type eq "work") and value eq "x"]` (docs/decisions.md).
func prepare(text string, inFilter bool) (*prepared, error) {
	p := &prepared{}
	var out strings.Builder
	var cur strings.Builder // content of the current brackets
	depth, parens := 0, 0
	inString := false
	w := func(at int, s string) {
		if depth > 0 {
			cur.WriteString(s)
			return
		}
		out.WriteString(s)
		for range s {
			p.pos = append(p.pos, at)
		}
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case inString && c == '\\':
			if i+1 >= len(text) {
				return nil, posError{at: i, msg: "a backslash ends the text"}
			}
			if text[i+1] == 'u' && i+5 < len(text) {
				w(i, `\u`+strings.ToUpper(text[i+2:i+6]))
				i += 5
				continue
			}
			w(i, text[i:i+2])
			i++
		case c == '"':
			inString = !inString
			w(i, `"`)
		case inString:
			w(i, text[i:i+1])
		case c == '(':
			// The parser backtracks on parentheses; IdPs nest one or two.
			if parens++; parens > maxParens {
				return nil, posError{at: i, msg: fmt.Sprintf("parentheses are nested deeper than %d", maxParens)}
			}
			w(i, "(")
		case c == ')':
			parens--
			w(i, ")")
		case c == '[':
			if depth > 0 {
				return nil, posError{at: i, msg: "value filters [...] cannot be nested"}
			}
			depth = 1
			cur.Reset()
			at := i + 1
			for at < len(text) && text[at] == ' ' {
				at++
			}
			p.at = append(p.at, at)
		case c == ']':
			if depth == 0 {
				return nil, posError{at: i, msg: "a ']' has no '[' before it"}
			}
			depth = 0
			content := strings.TrimSpace(cur.String())
			if inFilter {
				if sub, n := subAttrComparison(text[i+1:]); n > 0 && content != "" {
					content = "(" + content + ") and " + sub
					w(i, fmt.Sprintf("[%s%d pr]", vfPrefix, len(p.inner)))
					p.inner = append(p.inner, content)
					p.end = append(p.end, i)
					i += n
					continue
				}
			}
			w(i, fmt.Sprintf("[%s%d pr]", vfPrefix, len(p.inner)))
			p.inner = append(p.inner, content)
			p.end = append(p.end, i)
		default:
			w(i, text[i:i+1])
		}
	}
	if inString {
		return nil, posError{at: len(text), msg: "a quoted string is not closed"}
	}
	if depth > 0 {
		return nil, posError{at: len(text), msg: "a '[' is not closed"}
	}
	p.outer = out.String()
	return p, nil
}

var subAttrCompare = regexp.MustCompile(`^\.([A-Za-z][A-Za-z0-9_-]*) +(?i:(pr)|(eq|ne|co|sw|ew|gt|ge|lt|le) +("(?:[^"\\]|\\.)*"|[^\s()\[\]"]+))`)

// subAttrComparison reads ".sub op value" (or ".sub pr") at the start of
// rest, as Entra writes it after a value filter; it returns the comparison
// without the dot and the number of bytes it spans (0: none).
func subAttrComparison(rest string) (string, int) {
	m := subAttrCompare.FindStringSubmatch(rest)
	if m == nil {
		return "", 0
	}
	if m[2] != "" {
		return m[1] + " pr", len(m[0])
	}
	return m[1] + " " + m[3] + " " + m[4], len(m[0])
}

// syntaxError is a filter or path problem described by this package, in
// words for the IdP's admin. Errors of the third-party parser are never
// shown: they name its internals ("expected op.Or or[func func …]") and
// echo raw bytes of the input; syntaxMessage replaces them.
type syntaxError string

func (e syntaxError) Error() string { return string(e) }

// posError is a syntax problem at a character of the client's text (a
// 0-based byte offset); msg is empty when only the place is known.
type posError struct {
	at   int
	msg  string
	text string // the client's text, to quote what is at the place
}

func (e posError) Error() string { return fmt.Sprintf("at %d: %s", e.at, e.msg) }

var conflictPos = regexp.MustCompile(`^parse conflict \[(\d+):(\d+)\]`)

// conflictAt returns the 0-based column of a filter-parser error.
func conflictAt(err error) (int, bool) {
	if m := conflictPos.FindStringSubmatch(err.Error()); m != nil {
		if col, err := strconv.Atoi(m[2]); err == nil {
			return col, true
		}
	}
	return 0, false
}

const grammarHint = "write comparisons as attribute operator value (userName eq \"bjensen\"), joined by and, or, not and parentheses"

// syntaxMessage is what a client reads for a filter (or path) that does
// not parse: in SCIM's terms, with the character where it goes wrong.
func syntaxMessage(what string, err error) string {
	var pe posError
	if errors.As(err, &pe) {
		place := fmt.Sprintf("at character %d", pe.at+1)
		if pe.text != "" {
			if pe.at >= len(pe.text) {
				place += " (the end)"
			} else {
				near := pe.text[pe.at:]
				if len(near) > 20 {
					near = near[:20]
					for !utf8.ValidString(near) {
						near = near[:len(near)-1]
					}
					near += "…"
				}
				place += fmt.Sprintf(" (%q)", near)
			}
		}
		if pe.msg != "" {
			return "the " + what + " is not valid " + place + ": " + pe.msg
		}
		return "the " + what + " is not valid " + place + "; " + grammarHint
	}
	var se syntaxError
	if errors.As(err, &se) {
		return "the " + what + " is not valid: " + string(se)
	}
	return "the " + what + " is not valid; " + grammarHint
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
	text = strings.TrimSpace(text)
	defer func() { err = withText(err, text) }()
	p, err := prepare(text, true)
	if err != nil {
		return nil, err
	}
	e, err := filter.ParseFilterNumber([]byte(p.outer))
	if err != nil {
		return nil, diagnosed(text, p.outerError(err))
	}
	vfs, err := parseInner(p)
	if err != nil {
		return nil, diagnosed(text, err)
	}
	return substitute(e, vfs)
}

// parsePathExpr parses a PATCH path the same way.
func parsePathExpr(text string) (fp filter.Path, err error) {
	defer func() {
		if r := recover(); r != nil {
			fp, err = filter.Path{}, fmt.Errorf("parser failure: %v", r)
		}
	}()
	text = strings.TrimSpace(text)
	defer func() { err = withText(err, text) }()
	p, err := prepare(text, false)
	if err != nil {
		return filter.Path{}, err
	}
	fp, err = filter.ParsePathNumber([]byte(p.outer))
	if err != nil {
		return filter.Path{}, p.outerError(err)
	}
	vfs, err := parseInner(p)
	if err != nil {
		return filter.Path{}, err
	}
	if fp.ValueExpression != nil {
		if fp.ValueExpression, err = placeholder(fp.ValueExpression, vfs); err != nil {
			return filter.Path{}, err
		}
	}
	return fp, nil
}

// diagnosed prefers diagnose's account of a parse error to the parser's.
func diagnosed(text string, err error) error {
	if at, msg, ok := diagnose(text); ok {
		return posError{at: at, msg: msg}
	}
	return err
}

// withText attaches the client's text to a position error, for quoting.
func withText(err error, text string) error {
	var pe posError
	if errors.As(err, &pe) {
		pe.text = text
		return pe
	}
	return err
}

// outerError places a parser error on the client's text.
func (p *prepared) outerError(err error) error {
	if col, ok := conflictAt(err); ok {
		return posError{at: p.origin(col)}
	}
	return err
}

func parseInner(p *prepared) ([]filter.Expression, error) {
	vfs := make([]filter.Expression, len(p.inner))
	for i, s := range p.inner {
		if s == "" {
			return nil, posError{at: p.end[i], msg: "a value filter [] is empty"}
		}
		e, err := filter.ParseFilterNumber([]byte(s))
		if err != nil {
			at := p.end[i]
			if col, ok := conflictAt(err); ok && p.at[i]+col < p.end[i] {
				at = p.at[i] + col
			}
			return nil, posError{at: at}
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
