// Package ids makes identifiers and secrets.
package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"

	"github.com/google/uuid"
)

// New returns a random, time-ordered UUIDv7 string for primary keys: never
// sequential in URLs, yet index-friendly.
func New() string { return uuid.Must(uuid.NewV7()).String() }

// Valid reports whether s looks like an id made by New (used to answer 404
// before touching the database for garbage path values).
func Valid(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// Secret returns a URL-safe random string carrying n random bytes.
func Secret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash returns the hex SHA-256 of a high-entropy secret (session ids, tokens,
// codes). Such secrets need no salt or slow hash: guessing them is infeasible.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Equal compares two secrets in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
