// Package csvexport is the one CSV writer behind every export (audit log,
// computers, invitations, users with product licenses): a header row, then
// rows whose cells are defused against spreadsheet formula injection, and
// the HTTP headers every export is sent with.
package csvexport

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Writer writes one export. Every cell goes through Cell, so no caller can
// forget the guard for a value someone typed.
type Writer struct{ cw *csv.Writer }

// New starts an export on w with its header row.
func New(w io.Writer, header ...string) (*Writer, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return nil, err
	}
	return &Writer{cw: cw}, nil
}

// Row writes one row; each cell is passed through Cell.
func (w *Writer) Row(cells ...string) error {
	return w.cw.Write(SafeCells(cells...))
}

// Close flushes the export and reports any write error.
func (w *Writer) Close() error {
	w.cw.Flush()
	return w.cw.Error()
}

// Cell defuses spreadsheet formula injection: a value a spreadsheet would
// run as a formula (=, +, -, @, tab, carriage return first) gets a leading
// quote, which spreadsheets show as text.
func Cell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// SafeCells applies Cell to every cell, in place.
func SafeCells(cells ...string) []string {
	for i, c := range cells {
		cells[i] = Cell(c)
	}
	return cells
}

// Time formats t as UTC RFC 3339, or "" for the zero time (never happened).
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Send sets the headers of every CSV export: a dated attachment that no
// browser or proxy keeps (exports hold personal data and codes).
func Send(w http.ResponseWriter, name string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.csv"`, name, time.Now().UTC().Format("2006-01-02")))
	w.Header().Set("Cache-Control", "no-store")
}
