package license

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Limits of an invitation address list.
const (
	MaxInvitationCSVBytes = 1 << 20
	MaxInvitationsPerSend = 5000
)

// LineError is a row of an address list that cannot be used, with its
// 1-based line number in the file.
type LineError struct {
	Line    int
	Value   string
	Message string
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// ParsedAddresses is the result of the Parse step: the addresses that can be
// invited and every row that cannot, so that the admin sees both before
// anything is sent.
type ParsedAddresses struct {
	Valid  []string
	Errors []LineError
}

// NormalizeEmail checks one address and returns it with its domain in lower
// case. Display names ("Ann <ann@example.com>") are not accepted: the list
// holds addresses.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errors.New("empty address")
	case len(s) > 254:
		return "", errors.New("address is longer than 254 characters")
	case !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\r\n\t <>,;\""):
		return "", errors.New("not an email address")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", errors.New("not an email address")
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", errors.New("the domain after @ is incomplete")
	}
	return local + "@" + domain, nil
}

// ParseAddressList reads addresses typed one by one (one per line, or
// separated by commas or semicolons).
func ParseAddressList(text string) ParsedAddresses {
	var out ParsedAddresses
	seen := map[string]int{}
	for i, line := range strings.Split(text, "\n") {
		for _, part := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ';' }) {
			out.add(i+1, part, seen)
		}
	}
	return out
}

func (p *ParsedAddresses) add(line int, raw string, seen map[string]int) {
	v := strings.TrimSpace(raw)
	if v == "" {
		return
	}
	addr, err := NormalizeEmail(v)
	if err != nil {
		p.Errors = append(p.Errors, LineError{Line: line, Value: truncate(v, 100), Message: err.Error()})
		return
	}
	key := strings.ToLower(addr)
	if first, dup := seen[key]; dup {
		p.Errors = append(p.Errors, LineError{Line: line, Value: addr, Message: fmt.Sprintf("duplicate of line %d", first)})
		return
	}
	if len(p.Valid) >= MaxInvitationsPerSend {
		p.Errors = append(p.Errors, LineError{Line: line, Value: addr, Message: fmt.Sprintf("more than %d addresses; send the rest separately", MaxInvitationsPerSend)})
		return
	}
	seen[key] = line
	p.Valid = append(p.Valid, addr)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// ParseInvitationCSV reads a one-column CSV file of addresses (a header row
// such as "email" is recognized and skipped; blank lines are skipped). Every
// other row is either a valid address or a LineError — none is dropped.
func ParseInvitationCSV(r io.Reader) (ParsedAddresses, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInvitationCSVBytes+1))
	if err != nil {
		return ParsedAddresses{}, fmt.Errorf("read CSV: %w", err)
	}
	if len(data) > MaxInvitationCSVBytes {
		return ParsedAddresses{}, &FieldError{Field: "file", Message: "The file is larger than 1 MiB; split it into smaller files."}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return ParsedAddresses{}, &FieldError{Field: "file", Message: "The file is not UTF-8 text; save it as CSV (UTF-8)."}
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	var out ParsedAddresses
	seen := map[string]int{}
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// After a quoting error the reader cannot find the next row,
				// so the report says the rest of the file was not read.
				out.Errors = append(out.Errors, LineError{Line: pe.StartLine,
					Message: "cannot read this row or any row after it (" + pe.Err.Error() + "); fix the quotes and upload again"})
				return out, nil
			}
			return out, fmt.Errorf("read CSV: %w", err)
		}
		var values []string
		for _, f := range rec {
			if v := strings.TrimSpace(f); v != "" {
				values = append(values, v)
			}
		}
		if first {
			first = false
			if len(values) == 1 && isHeader(values[0]) {
				continue
			}
		}
		switch len(values) {
		case 0:
			continue
		case 1:
			out.add(line, values[0], seen)
		default:
			out.Errors = append(out.Errors, LineError{Line: line, Value: truncate(strings.Join(values, ", "), 100),
				Message: fmt.Sprintf("%d values in this row; the file must have one column with one address per row", len(values))})
		}
	}
	return out, nil
}

func isHeader(v string) bool {
	switch strings.ToLower(strings.Trim(v, " \"'")) {
	case "email", "e-mail", "email address", "e-mail address", "mail", "address", "emails", "e-mail-adresse", "emailadresse", "adresse":
		return true
	}
	return false
}
