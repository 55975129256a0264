package mail

import (
	"context"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// Delivered mail older than the retention goes; newer delivered mail and
// undelivered mail (pending, failed) stay.
func TestPurgeJobDeletesOldDeliveredMail(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		old, recent, pending, failed := enqueue(t, db, "a@example.com", "old"), enqueue(t, db, "b@example.com", "recent"),
			enqueue(t, db, "c@example.com", "pending"), enqueue(t, db, "d@example.com", "failed")
		set := func(id, status string, sentAt time.Time) {
			t.Helper()
			if _, err := db.Exec(ctx, `UPDATE outbox SET status = ?, sent_at = ?, created_at = ? WHERE id = ?`,
				status, store.At(sentAt), store.At(sentAt), id); err != nil {
				t.Fatal(err)
			}
		}
		set(old, "sent", now.Add(-DefaultRetention-time.Hour))
		set(recent, "sent", now.Add(-DefaultRetention+time.Hour))
		set(pending, "pending", now.Add(-2*DefaultRetention))
		set(failed, "failed", now.Add(-2*DefaultRetention))

		if _, ok := PurgeJob(db, 0, nil); ok {
			t.Fatal("retention 0 must keep mail forever (no job)")
		}
		job, ok := PurgeJob(db, DefaultRetention, func() time.Time { return now })
		if !ok || job.Name != PurgeJobName || job.Interval <= 0 {
			t.Fatalf("job %+v %v", job, ok)
		}
		if err := job.Run(ctx); err != nil {
			t.Fatal(err)
		}
		left := map[string]bool{}
		rows, err := db.Query(ctx, `SELECT id FROM outbox`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			left[id] = true
		}
		rows.Close()
		if left[old] || !left[recent] || !left[pending] || !left[failed] || len(left) != 3 {
			t.Fatalf("after purge: old %v recent %v pending %v failed %v (%d rows)", left[old], left[recent], left[pending], left[failed], len(left))
		}
	})
}

// The invitations list looks up each invitation's latest email by
// (ref_type, ref_id): SQLite answers it from the index, not a scan.
func TestOutboxRefLookupUsesIndex(t *testing.T) {
	// Query plans are checked on SQLite; the same migration makes the index
	// on PostgreSQL, whose planner picks by table statistics.
	{
		db := testenv.SQLite(t)
		rows, err := db.Query(context.Background(), `EXPLAIN QUERY PLAN SELECT o2.id FROM outbox o2
			WHERE o2.ref_type = 'license_invitation' AND o2.ref_id = ? ORDER BY o2.created_at DESC, o2.id DESC LIMIT 1`, "x")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var plan strings.Builder
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if s, ok := v.(string); ok {
					plan.WriteString(s + " ")
				}
			}
		}
		if !strings.Contains(plan.String(), "USING INDEX outbox_ref") {
			t.Fatalf("plan: %s", plan.String())
		}
	}
}
