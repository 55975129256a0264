package invitations

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"gatehouse/internal/account"
	"gatehouse/internal/freetext"
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

// listAddress checks one address of an invitation list with the account
// package's canonical address function and returns its canonical form
// (what is stored, mailed to and compared for duplicates). The list is
// stricter than the function's own messages about display names: a list
// holds addresses, so "Ann <ann@example.com>" gets a message saying that.
func listAddress(s string) (addr, canonical string, err error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", "", errors.New("empty address")
	case strings.ContainsAny(s, "<>\""):
		return "", "", errors.New("write the address only, without a name, quotes or angle brackets")
	}
	canonical, err = account.CanonicalEmail(s)
	if err != nil {
		return "", "", errors.New(strings.TrimSuffix(lowerFirst(err.Error()), "."))
	}
	return canonical, canonical, nil
}

func lowerFirst(s string) string {
	if s != "" && s[0] >= 'A' && s[0] <= 'Z' {
		return string(s[0]+'a'-'A') + s[1:]
	}
	return s
}

// Recheck runs the list's checks again on addresses a form sends back
// (the Send step after the Parse step): any problem stops everything.
func Recheck(emails []string) ParsedAddresses {
	var out ParsedAddresses
	seen := map[string]int{}
	for i, e := range emails {
		out.add(i+1, e, seen)
	}
	return out
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
	addr, key, err := listAddress(v)
	if err != nil {
		p.Errors = append(p.Errors, LineError{Line: line, Value: freetext.Shorten(v, 100), Message: err.Error()})
		return
	}
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
			out.Errors = append(out.Errors, LineError{Line: line, Value: freetext.Shorten(strings.Join(values, ", "), 100),
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
