package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// RetryAfterSeconds is what a node tells clients to wait while its database
// is unreachable: long enough not to hammer a restarting server, short
// enough that clients come back soon after it is up.
const RetryAfterSeconds = 5

// IsUnavailable reports whether err means the database could not be reached
// (server down, restarting, connection refused or cut, connect timeout)
// rather than a fault in the query or the data. Handlers answer these with
// 503 and Retry-After instead of 500: the request may succeed unchanged
// later, and nothing was committed (a commit that fails this way is rolled
// back by the server).
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 57 (operator intervention: admin/crash shutdown, cannot
		// connect now) and class 08 (connection exception).
		return strings.HasPrefix(pgErr.Code, "57P") || strings.HasPrefix(pgErr.Code, "08")
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return true
	}
	if pgconn.Timeout(err) && !errors.Is(err, context.Canceled) {
		return true
	}
	// pgx reports a connection the server closed under it with these
	// texts and no typed error.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "failed to connect to") ||
		strings.Contains(msg, "unexpected EOF")
}
