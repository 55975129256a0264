// Package strictjson is the one check every JSON request body passes before
// it is decoded (client API, vendor API, SCIM). encoding/json keeps the last
// of two equal keys and silently turns invalid UTF-8 into U+FFFD, so
// {"seats":1,"seats":500} means whatever the last parser in a chain
// decides, and a body can smuggle bytes no text column accepts. Check
// refuses such bodies, naming the key, before any decoding happens;
// unknown-field and size-limit rules stay with each API's decoder.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gatehouse/internal/freetext"
)

// MaxDepth bounds the nesting of objects and arrays (no API of ours nests
// deeper than a handful of levels).
const MaxDepth = 64

// Options tune Check.
type Options struct {
	// FoldCase compares keys case-insensitively (SCIM attribute names are
	// case-insensitive, so "userName" and "USERNAME" are the same key).
	FoldCase bool
}

// DuplicateKeyError names a key that appears twice in one object.
type DuplicateKeyError struct {
	Key  string // the second occurrence, as sent
	Path string // where the object is ("" for the top level), e.g. device or Operations[0].value
}

func (e *DuplicateKeyError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("duplicate key %q", e.Key)
	}
	return fmt.Sprintf("duplicate key %q in %s", e.Key, e.Path)
}

// TextError is a key or string value that is not storable text.
type TextError struct {
	Path    string // the value's location ("" for the top level)
	Problem string // completes "the value …"
}

func (e *TextError) Error() string {
	if e.Path == "" {
		return "the value " + e.Problem
	}
	return fmt.Sprintf("%s %s", e.Path, e.Problem)
}

// DepthError is a body nested deeper than MaxDepth.
type DepthError struct{ Path string }

func (e *DepthError) Error() string {
	return fmt.Sprintf("the JSON body is nested more than %d levels deep (at %s)", MaxDepth, e.Path)
}

type frame struct {
	object  bool
	wantKey bool
	key     string
	index   int
	seen    map[string]bool
}

// Check walks data and returns a *DuplicateKeyError, *TextError or
// *DepthError for the first problem it finds. Syntax errors are not its
// business: it returns nil for them, so the API's decoder reports them in
// its own words.
func Check(data []byte, opt Options) error {
	if !utf8.Valid(data) {
		// Find the string that holds the bad bytes, for the message: walk
		// the body with the bad bytes marked and report that value's path.
		return &TextError{Path: invalidUTF8Path(data), Problem: "is not valid UTF-8 text"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	where := func(extra string) string { return pathOf(stack, extra) }
	done := func() {
		if n := len(stack); n > 0 {
			if top := stack[n-1]; top.object {
				top.wantKey = true
			} else {
				top.index++
			}
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil // a syntax error: the decoder says it better
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			top := stack[n-1]
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:n-1]
				done()
				continue
			}
			key, _ := tok.(string)
			if p := freetext.Problem(key); p != "" {
				return &TextError{Path: where("key " + strconv.Quote(key)), Problem: p}
			}
			k := key
			if opt.FoldCase {
				k = foldKey(key)
			}
			if top.seen[k] {
				return &DuplicateKeyError{Key: key, Path: where("")}
			}
			top.seen[k] = true
			top.key, top.wantKey = key, false
			continue
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if len(stack) >= MaxDepth {
					return &DepthError{Path: where("")}
				}
				stack = append(stack, &frame{object: v == '{', wantKey: v == '{', seen: map[string]bool{}})
			default:
				stack = stack[:len(stack)-1]
				done()
			}
		case string:
			if p := freetext.Problem(v); p != "" {
				return &TextError{Path: where(""), Problem: p}
			}
			done()
		default:
			done()
		}
	}
}

// pathOf renders the location of the current value: keys joined by dots,
// array positions in brackets.
func pathOf(stack []*frame, extra string) string {
	var b strings.Builder
	for _, f := range stack {
		if f.object {
			if f.wantKey {
				continue // between keys: the object itself is the location
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			fmt.Fprintf(&b, "[%d]", f.index)
		}
	}
	if extra != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(extra)
	}
	return b.String()
}

// invalidUTF8Path finds which value holds the first invalid byte sequence:
// the bytes are replaced by a marker the walk then recognises.
func invalidUTF8Path(data []byte) string {
	const marker = "\x00invalid-utf8\x00"
	fixed := bytes.ToValidUTF8(data, []byte(`\u0000invalid-utf8\u0000`))
	var found string
	var walk func(v any, path string) bool
	walk = func(v any, path string) bool {
		switch x := v.(type) {
		case string:
			if strings.Contains(x, marker) {
				found = path
				return true
			}
		case map[string]any:
			for k, e := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if strings.Contains(k, marker) {
					found = path
					return true
				}
				if walk(e, p) {
					return true
				}
			}
		case []any:
			for i, e := range x {
				if walk(e, fmt.Sprintf("%s[%d]", path, i)) {
					return true
				}
			}
		}
		return false
	}
	var v any
	if json.Unmarshal(fixed, &v) == nil {
		walk(v, "")
	}
	return found
}

// foldKey maps a key to one representative of its case-folding class, the
// same classes strings.EqualFold (and so SCIM's attribute lookup) uses.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}
