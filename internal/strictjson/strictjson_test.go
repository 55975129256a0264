package strictjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		body     string
		fold     bool
		dup      string // the duplicate key expected, with its path
		text     string // the path of a bad string expected
		depthErr bool
	}{
		{body: `{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`},
		{body: `{"seats":1,"seats":500}`, dup: `duplicate key "seats"`},
		{body: `{"device":{"name":"a","uuid":"u","name":"b"}}`, dup: `duplicate key "name" in device`},
		{body: `{"Operations":[{"op":"add"},{"op":"add","value":{"x":1,"x":2}}]}`, dup: `duplicate key "x" in Operations[1].value`},
		{body: `[{"k":1},{"k":1,"k":2}]`, dup: `duplicate key "k" in [1]`},
		{body: `{"userName":"a","USERNAME":"b"}`},
		{body: `{"userName":"a","USERNAME":"b"}`, fold: true, dup: `duplicate key "USERNAME"`},
		{body: `{"kind":"a","\u212aIND":"b"}`},
		{body: `{"kind":"a","\u212aIND":"b"}`, fold: true, dup: "duplicate key \"\u212aIND\""}, // Kelvin sign folds to k
		{body: `{"name":"K","name\u0000":"x"}`, text: `key "name\x00"`},
		{body: `{"note":"a\u0000b"}`, text: "note"},
		{body: `{"list":["ok","\u0000"]}`, text: "list[1]"},
		{body: "{\"note\":\"bad \xff\"}", text: "note"},
		{body: `{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, depthErr: true},
		{body: `{"a":1,"a":`}, // syntax error after the duplicate: still the duplicate
		{body: `{"a":1`},      // syntax errors are the decoder's to report
		{body: `not json`},
	} {
		err := Check([]byte(c.body), Options{FoldCase: c.fold})
		var de *DuplicateKeyError
		var te *TextError
		var dep *DepthError
		switch {
		case c.dup != "":
			if !errors.As(err, &de) || de.Error() != c.dup {
				t.Errorf("Check(%s) = %v; want %s", c.body, err, c.dup)
			}
		case c.text != "":
			if !errors.As(err, &te) || !strings.HasPrefix(te.Path, c.text) {
				t.Errorf("Check(%q) = %v; want a text error at %s", c.body, err, c.text)
			}
		case c.depthErr:
			if !errors.As(err, &dep) {
				t.Errorf("Check(deep) = %v; want a depth error", err)
			}
		case strings.HasPrefix(c.body, `{"a":1,"a":`):
			if !errors.As(err, &de) {
				t.Errorf("Check(%s) = %v; want the duplicate", c.body, err)
			}
		default:
			if err != nil {
				t.Errorf("Check(%s) = %v; want nil", c.body, err)
			}
		}
	}
}

// FuzzCheck: Check never panics, and a body it passes that encoding/json
// decodes into a map decodes to one with exactly as many keys as the
// body's top-level object names (no key was silently dropped as a repeat).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":[1,{"c":"\u0000"}]}}`, `[]`, `"x"`, "{\"\xff\":1}"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, fold bool) {
		err := Check(body, Options{FoldCase: fold})
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil {
			return
		}
		dec := json.NewDecoder(strings.NewReader(string(body)))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return
		}
		n := 0
		for dec.More() {
			if _, err := dec.Token(); err != nil {
				return
			}
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return
			}
			n++
		}
		if n != len(m) {
			t.Fatalf("Check passed %q with %d keys that decode to %d", body, n, len(m))
		}
	})
}
