// Package freetext is the one check every piece of free text (names,
// descriptions, search terms, form fields, JSON strings) passes where it
// enters Gatehouse. PostgreSQL refuses invalid UTF-8 and NUL in text
// columns (a 500 at the database) while SQLite stores them (bytes that later
// break CSV exports, emails and other systems), so both are refused at the
// edge with a message the sender can act on, and both engines behave alike.
package freetext

import (
	"strings"
	"unicode/utf8"
)

// Problem describes why s cannot be stored as text, or returns "" when it
// can. The message completes "This value …".
func Problem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8 text (it contains a byte sequence that is not a character)"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL character, which cannot be stored"
	}
	return ""
}

// Valid reports whether s can be stored as text.
func Valid(s string) bool { return Problem(s) == "" }

// Shorten cuts s to at most n characters (runes, so never inside a UTF-8
// sequence), marking a cut with "…"; for quoting what someone typed or sent
// back in a message.
func Shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
