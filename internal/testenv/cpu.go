package testenv

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/store"
)

// PostgresCPU is the CPU time (user + system) that the PostgreSQL backends
// connected to db's database have used so far, read from /proc. Benchmarks
// add it to their own process's CPU time so that a per-request cost on
// PostgreSQL includes the database's share, a figure that the load of
// other processes on the machine does not swing. Backends that exited are
// not counted (keep the pool's connections open across the measurement);
// 0 on SQLite, for a server on another machine, or without /proc.
func PostgresCPU(ctx context.Context, db *store.DB) time.Duration {
	if db.Dialect() != store.Postgres {
		return 0
	}
	rows, err := db.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return 0
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			return 0
		}
		total += ProcessCPU(pid)
	}
	return total
}

// ProcessCPU is the CPU time (user + system) process pid has used so far,
// from /proc/<pid>/stat; 0 when it cannot be read.
func ProcessCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command: state is field 3, utime and
	// stime are fields 14 and 15, in clock ticks (100 per second on Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
