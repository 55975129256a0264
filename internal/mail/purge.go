package mail

import (
	"context"
	"fmt"
	"time"

	"gatehouse/internal/jobs"
	"gatehouse/internal/store"
)

// DefaultRetention is how long delivered mail stays in the outbox. It
// outlives the longest invitation (31 days), whose list shows whether its
// email was delivered; after that the message's text (a personal link or
// code) has no reason to stay in the database.
const DefaultRetention = 45 * 24 * time.Hour

// PurgeJobName is the purge job's lease name.
const PurgeJobName = "outbox-purge"

// PurgeJob deletes delivered messages older than keep, hourly, on the node
// that holds its lease. keep <= 0 keeps them forever (no job runs).
func PurgeJob(db *store.DB, keep time.Duration, now func() time.Time) (jobs.Job, bool) {
	if keep <= 0 {
		return jobs.Job{}, false
	}
	if now == nil {
		now = time.Now
	}
	return jobs.Job{Name: PurgeJobName, Interval: time.Hour, Run: func(ctx context.Context) error {
		_, err := PurgeDelivered(ctx, db, now().Add(-keep))
		return err
	}}, true
}

// PurgeDelivered deletes messages delivered before before and returns how
// many. Pending and failed messages stay: they are what the operator's
// outbox page is for.
func PurgeDelivered(ctx context.Context, db *store.DB, before time.Time) (int64, error) {
	res, err := db.Exec(ctx, `DELETE FROM outbox WHERE status = 'sent' AND sent_at < ?`, store.At(before))
	if err != nil {
		return 0, fmt.Errorf("purge delivered mail: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge delivered mail: %w", err)
	}
	return n, nil
}
