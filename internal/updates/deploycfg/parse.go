package deploycfg

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Severity of a diagnostic: errors make lint fail, warnings do not.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Diagnostic is one problem found in a file. Line and Column are 1-based;
// the column counts characters (not bytes).
type Diagnostic struct {
	File       string   `json:"file"`
	Line       int      `json:"line"`
	Column     int      `json:"column"`
	Severity   Severity `json:"severity"`
	Code       string   `json:"code"`
	Message    string   `json:"message"`
	Suggestion string   `json:"suggestion,omitempty"`
}

// Assignment is a name="value" line.
type Assignment struct {
	Line, Column int // of the name
	ValueColumn  int // of the first character inside the quotes
	Name, Value  string
}

// VMLine is a "<source>"="<destination>" line.
type VMLine struct {
	Line, Column int // of the opening quote of the source
	DestColumn   int
	Source, Dest string
	Mode         string // copy, skip, replace, or "" (replace)
}

// File is a parsed deploy.cfg.
type File struct {
	Name        string
	Assignments []Assignment
	VMs         []VMLine
	// Broken are the names of assignment lines whose value could not be
	// read; the linter still checks the names.
	Broken []Assignment
}

// MaxSize is the largest file the parser reads.
const MaxSize = 1 << 20

type parser struct {
	file  *File
	diags []Diagnostic
}

func (p *parser) add(line, col int, sev Severity, code, msg, suggestion string) {
	p.diags = append(p.diags, Diagnostic{File: p.file.Name, Line: line, Column: col, Severity: sev, Code: code, Message: msg, Suggestion: suggestion})
}

// Parse reads data (named name in diagnostics). It never fails: problems
// are returned as diagnostics and the lines it understood are in File.
func Parse(name string, data []byte) (*File, []Diagnostic) {
	p := &parser{file: &File{Name: name}}
	if len(data) > MaxSize {
		p.add(1, 1, Error, "file-too-large", fmt.Sprintf("the file has %d bytes; a deploy.cfg is at most %d", len(data), MaxSize), "")
		return p.file, p.diags
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		p.add(1, 1, Warning, "byte-order-mark", "the file starts with a byte order mark, which the deployment script may read as part of the first line",
			"save the file as UTF-8 without BOM")
		data = data[3:]
	}
	crlfReported := false
	lines := bytes.Split(data, []byte("\n"))
	for i, raw := range lines {
		ln := i + 1
		if bytes.HasSuffix(raw, []byte("\r")) {
			raw = raw[:len(raw)-1]
			if !crlfReported {
				crlfReported = true
				p.add(ln, len([]rune(string(raw)))+1, Warning, "crlf-line-endings", "the file has Windows (CRLF) line endings; the deployment script on the Mac expects LF",
					"save the file with Unix (LF) line endings")
			}
		}
		if !utf8.Valid(raw) {
			bad := 0
			for bad < len(raw) {
				r, size := utf8.DecodeRune(raw[bad:])
				if r == utf8.RuneError && size <= 1 {
					break
				}
				bad += size
			}
			p.add(ln, utf8.RuneCount(raw[:bad])+1, Error, "invalid-utf8", "the line is not valid UTF-8 text", "save the file as UTF-8")
			continue
		}
		p.line(ln, string(raw))
	}
	return p.file, p.diags
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' }

func isNameChar(r rune) bool {
	return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// line parses one line (without its newline).
func (p *parser) line(ln int, s string) {
	rs := []rune(s)
	for i, r := range rs {
		if r < 0x20 && r != '\t' || r == 0x7f {
			p.add(ln, i+1, Error, "control-character", fmt.Sprintf("the line contains the control character U+%04X", r), "remove it")
			return
		}
	}
	i := 0
	for i < len(rs) && isSpace(rs[i]) {
		i++
	}
	if i == len(rs) || rs[i] == '#' {
		return
	}
	switch {
	case rs[i] == '[':
		p.add(ln, i+1, Error, "section-header", "deploy.cfg has no [section] lines: sections are comments",
			"write the heading as a comment, e.g. "+strings.TrimSpace("# "+strings.Trim(strings.TrimSpace(string(rs[i:])), "[]")))
	case rs[i] == '"':
		p.vmLine(ln, rs, i)
	case isNameChar(rs[i]):
		p.assignment(ln, rs, i)
	default:
		p.add(ln, i+1, Error, "malformed-line", fmt.Sprintf("unexpected %q: a line is a comment (#…), name=\"value\", or \"<VM source>\"=\"<destination>\"", rs[i]), "")
	}
}

// quoted reads a double-quoted string starting at rs[i] == '"'. It returns
// the content and the index after the closing quote, or ok=false with a
// diagnostic added.
func (p *parser) quoted(ln int, rs []rune, i int, what string) (string, int, bool) {
	start := i + 1
	for j := start; j < len(rs); j++ {
		if rs[j] == '"' {
			return string(rs[start:j]), j + 1, true
		}
	}
	p.add(ln, i+1, Error, "unterminated-quote", what+" has no closing double quote", "end it with \"")
	return "", 0, false
}

// rest checks that only blanks or a comment follow position i.
func (p *parser) rest(ln int, rs []rune, i int) bool {
	j := i
	for j < len(rs) && isSpace(rs[j]) {
		j++
	}
	if j == len(rs) || rs[j] == '#' {
		return true
	}
	p.add(ln, j+1, Error, "trailing-text", fmt.Sprintf("unexpected text %q after the value", string(rs[j:])), "put one setting per line; comments start with #")
	return false
}

func (p *parser) assignment(ln int, rs []rune, i int) {
	start := i
	for i < len(rs) && isNameChar(rs[i]) {
		i++
	}
	name := string(rs[start:i])
	ok := false
	defer func() {
		if !ok {
			p.file.Broken = append(p.file.Broken, Assignment{Line: ln, Column: start + 1, Name: name})
		}
	}()
	j := i
	for j < len(rs) && isSpace(rs[j]) {
		j++
	}
	if j == len(rs) || rs[j] != '=' {
		what := "nothing"
		if j < len(rs) {
			what = fmt.Sprintf("%q", rs[j])
		}
		p.add(ln, j+1, Error, "missing-equals", fmt.Sprintf("expected = after %s, found %s", name, what), fmt.Sprintf("write %s=\"value\"", name))
		return
	}
	if j > i {
		p.add(ln, i+1, Error, "space-around-equals", "no blanks are allowed between the name and =", "")
		return
	}
	k := j + 1
	for k < len(rs) && isSpace(rs[k]) {
		k++
	}
	if k > j+1 {
		p.add(ln, j+2, Error, "space-around-equals", "no blanks are allowed between = and the value", "")
		return
	}
	if k == len(rs) {
		p.add(ln, k+1, Error, "missing-value", fmt.Sprintf("%s has no value", name), fmt.Sprintf("write %s=\"\" for an empty value, or comment the line out", name))
		return
	}
	switch rs[k] {
	case '"':
	case '\'':
		v := strings.Trim(string(rs[k:]), "'")
		p.add(ln, k+1, Error, "single-quotes", "values are written in double quotes", fmt.Sprintf("write %s=%q", name, v))
		return
	default:
		v := strings.TrimSpace(string(rs[k:]))
		if h := strings.Index(v, " #"); h >= 0 {
			v = strings.TrimSpace(v[:h])
		}
		p.add(ln, k+1, Error, "unquoted-value", "the value must be in double quotes", fmt.Sprintf("write %s=%q", name, v))
		return
	}
	value, end, qok := p.quoted(ln, rs, k, "the value of "+name)
	if !qok || !p.rest(ln, rs, end) {
		return
	}
	ok = true
	p.file.Assignments = append(p.file.Assignments, Assignment{Line: ln, Column: start + 1, ValueColumn: k + 2, Name: name, Value: value})
}

var vmModes = []string{"copy", "skip", "replace"}

func (p *parser) vmLine(ln int, rs []rune, i int) {
	src, j, ok := p.quoted(ln, rs, i, "the VM source")
	if !ok {
		return
	}
	if j == len(rs) || rs[j] != '=' {
		k := j
		for k < len(rs) && isSpace(rs[k]) {
			k++
		}
		if k < len(rs) && rs[k] == '=' {
			p.add(ln, j+1, Error, "space-around-equals", "no blanks are allowed between the VM source and =", "")
		} else {
			p.add(ln, j+1, Error, "missing-equals", "expected = after the VM source", "write \"<source>\"=\"<destination>\"")
		}
		return
	}
	k := j + 1
	if k < len(rs) && isSpace(rs[k]) {
		p.add(ln, k+1, Error, "space-around-equals", "no blanks are allowed between = and the destination", "")
		return
	}
	vm := VMLine{Line: ln, Column: i + 1, Source: src}
	switch {
	case k < len(rs) && rs[k] == '"':
		dest, end, ok := p.quoted(ln, rs, k, "the VM destination")
		if !ok || !p.rest(ln, rs, end) {
			return
		}
		vm.Dest, vm.DestColumn = dest, k+2
	case k < len(rs) && isNameChar(rs[k]):
		m := k
		for m < len(rs) && isNameChar(rs[m]) {
			m++
		}
		mode := string(rs[k:m])
		if m == len(rs) || rs[m] != '(' {
			p.add(ln, m+1, Error, "malformed-vm-line", fmt.Sprintf("expected ( after %s", mode), fmt.Sprintf("write %s(\"<destination>\")", mode))
			return
		}
		known := false
		for _, vmode := range vmModes {
			known = known || vmode == mode
		}
		if !known {
			sugg := "use copy(…), skip(…) or replace(…)"
			if best, ok := closest(strings.ToLower(mode), vmModes, 2); ok {
				sugg = fmt.Sprintf("did you mean %s(…)?", best)
			}
			p.add(ln, k+1, Error, "unknown-vm-mode", fmt.Sprintf("%q is not a conflict strategy; use copy, skip or replace", mode), sugg)
			return
		}
		if m+1 >= len(rs) || rs[m+1] != '"' {
			p.add(ln, m+2, Error, "malformed-vm-line", fmt.Sprintf("expected a quoted destination inside %s(…)", mode), fmt.Sprintf("write %s(\"<destination>\")", mode))
			return
		}
		dest, end, ok := p.quoted(ln, rs, m+1, "the VM destination")
		if !ok {
			return
		}
		if end >= len(rs) || rs[end] != ')' {
			p.add(ln, end+1, Error, "malformed-vm-line", fmt.Sprintf("expected ) to close %s(", mode), fmt.Sprintf("write %s(%q)", mode, dest))
			return
		}
		if !p.rest(ln, rs, end+1) {
			return
		}
		vm.Dest, vm.DestColumn, vm.Mode = dest, m+3, mode
	default:
		p.add(ln, k+1, Error, "malformed-vm-line", "expected the quoted destination after =", "write \"<source>\"=\"<destination>\"")
		return
	}
	p.file.VMs = append(p.file.VMs, vm)
}
