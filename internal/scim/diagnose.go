package scim

import (
	"fmt"
	"strings"
)

// The third-party parser says only that a filter does not parse, and the
// column it reports is where its last alternative gave up, often well
// before the mistake. diagnose walks the filter with RFC 7644's grammar
// (§3.4.2.2) to name the first token that does not fit and what was
// expected there, so an IdP admin can fix a mapping from the message alone.

type filterToken struct {
	at   int
	text string
	kind byte // 'w' word, 's' quoted string, or one of ( ) [ ]
}

func filterTokens(text string) []filterToken {
	var out []filterToken
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == '[' || c == ']':
			out = append(out, filterToken{at: i, text: text[i : i+1], kind: c})
			i++
		case c == '"':
			j := i + 1
			for j < len(text) && text[j] != '"' {
				if text[j] == '\\' {
					j++
				}
				j++
			}
			if j < len(text) {
				j++
			}
			out = append(out, filterToken{at: i, text: text[i:min(j, len(text))], kind: 's'})
			i = j
		default:
			j := i
			for j < len(text) && !strings.ContainsRune(" \t()[]\"", rune(text[j])) {
				j++
			}
			out = append(out, filterToken{at: i, text: text[i:j], kind: 'w'})
			i = j
		}
	}
	return out
}

var compareOps = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "ge": true, "lt": true, "le": true}

const opList = "eq, ne, co, sw, ew, gt, ge, lt, le or pr"

// isAttrPath accepts [URN ":"] name ["." name], names starting with a
// letter (unknown names are the compiler's to report).
func isAttrPath(w string) bool {
	if i := strings.LastIndexByte(w, ':'); i >= 0 {
		if !strings.HasPrefix(strings.ToLower(w), "urn:") {
			return false
		}
		w = w[i+1:]
	}
	parts := strings.Split(w, ".")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || !isLetter(p[0]) {
			return false
		}
		for i := 1; i < len(p); i++ {
			if !isLetter(p[i]) && !(p[i] >= '0' && p[i] <= '9') && p[i] != '_' && p[i] != '-' && p[i] != '$' {
				return false
			}
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isValueWord(w string) bool {
	switch strings.ToLower(w) {
	case "true", "false", "null":
		return true
	}
	if w == "" {
		return false
	}
	s := strings.TrimPrefix(w, "-")
	if s == "" || !(s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

// diagnose returns the first place where text departs from the filter
// grammar and what was expected there; ok is false when it finds none
// (the caller then falls back on the parser's column).
func diagnose(text string) (at int, msg string, ok bool) {
	toks := filterTokens(text)
	const (
		start     = iota // an expression starts: attrPath, not, (
		afterNot         // "not" needs "("
		afterAttr        // an attribute: operator, or [ for a value filter
		afterSub         // ".sub" after a value filter (Entra): operator
		value            // a comparison value
		end              // an expression ended: and, or, ), ], end
	)
	state := start
	var parens []int // offsets of open "("
	inBracket := -1  // offset of the open "[", or -1
	var prev filterToken
	for _, t := range toks {
		lower := strings.ToLower(t.text)
		switch state {
		case start:
			switch {
			case t.kind == '(':
				parens = append(parens, t.at)
			case t.kind == 'w' && lower == "not":
				state = afterNot
			case t.kind == 'w' && (lower == "and" || lower == "or"):
				return t.at, fmt.Sprintf("%q has no comparison before it", t.text), true
			case t.kind == 'w' && isAttrPath(t.text):
				state = afterAttr
			case t.kind == ']' && inBracket >= 0:
				return t.at, "the value filter [...] is empty", true
			default:
				return t.at, "expected an attribute name, not or '('", true
			}
		case afterNot:
			if t.kind != '(' {
				return t.at, "expected '(' after not (write not (userName eq \"x\"))", true
			}
			parens = append(parens, t.at)
			state = start
		case afterAttr, afterSub:
			switch {
			case t.kind == 'w' && lower == "pr":
				state = end
			case t.kind == 'w' && compareOps[lower]:
				state = value
			case t.kind == '[' && state == afterAttr && inBracket < 0 && !strings.Contains(prev.text, "."):
				inBracket = t.at
				state = start
			case t.kind == '[' && inBracket >= 0:
				return t.at, "value filters [...] cannot be nested", true
			default:
				return t.at, fmt.Sprintf("expected an operator (%s) after %q", opList, prev.text), true
			}
		case value:
			if t.kind == 's' || t.kind == 'w' && isValueWord(t.text) {
				state = end
				break
			}
			return t.at, "expected a value: a quoted string, a number, true, false or null", true
		case end:
			switch {
			case t.kind == 'w' && (lower == "and" || lower == "or"):
				state = start
			case t.kind == ')' && len(parens) > 0:
				parens = parens[:len(parens)-1]
			case t.kind == ']' && inBracket >= 0:
				inBracket = -1
			case t.kind == 'w' && prev.kind == ']' && strings.HasPrefix(t.text, ".") && isAttrPath(t.text[1:]):
				state = afterSub
			case t.kind == ')':
				return t.at, "this ')' has no '(' before it", true
			case t.kind == ']':
				return t.at, "this ']' has no '[' before it", true
			default:
				return t.at, "expected and, or, a closing bracket or the end of the filter", true
			}
		}
		prev = t
	}
	switch {
	case state == start || state == afterNot:
		return len(text), "the filter ends where an expression should start", true
	case state == afterAttr || state == afterSub:
		return len(text), fmt.Sprintf("expected an operator (%s) after %q", opList, prev.text), true
	case state == value:
		return len(text), "expected a value after the operator", true
	case inBracket >= 0:
		return inBracket, "this '[' is not closed", true
	case len(parens) > 0:
		return parens[len(parens)-1], "this '(' is not closed", true
	}
	return 0, "", false
}
