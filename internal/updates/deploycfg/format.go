package deploycfg

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteText writes diagnostics one per line as file:line:column: severity:
// message [code] (then "; " and the suggestion), and a summary line.
func WriteText(w io.Writer, file string, diags []Diagnostic) error {
	for _, d := range diags {
		line := fmt.Sprintf("%s:%d:%d: %s: %s [%s]", d.File, d.Line, d.Column, d.Severity, d.Message, d.Code)
		if d.Suggestion != "" {
			line += "\n    suggestion: " + d.Suggestion
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, Summary(file, diags))
	return err
}

// Summary is "deploy.cfg: 2 errors, 1 warning" or "deploy.cfg: no problems found".
func Summary(file string, diags []Diagnostic) string {
	e := Errors(diags)
	wn := len(diags) - e
	if len(diags) == 0 {
		return file + ": no problems found"
	}
	return fmt.Sprintf("%s: %d %s, %d %s", file, e, plural(e, "error", "errors"), wn, plural(wn, "warning", "warnings"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Report is the JSON form of a lint run.
type Report struct {
	File        string       `json:"file"`
	Errors      int          `json:"errors"`
	Warnings    int          `json:"warnings"`
	Diagnostics []Diagnostic `json:"diagnostics"`
}

// WriteJSON writes the report as one JSON document.
func WriteJSON(w io.Writer, file string, diags []Diagnostic) error {
	if diags == nil {
		diags = []Diagnostic{}
	}
	e := Errors(diags)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(Report{File: file, Errors: e, Warnings: len(diags) - e, Diagnostics: diags})
}
