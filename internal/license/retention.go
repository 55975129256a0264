package license

import (
	"context"
	"fmt"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/jobs"
	"gatehouse/internal/store"
)

// RetentionJobName is the lease name of the retention job.
const RetentionJobName = "license-retention"

// RetentionJob returns the background job that ends lapsed subscriptions
// and purges Enterprise settings once the retention period after the end is
// over. The jobs.Runner's lease makes one node run it at a time.
func (s *Service) RetentionJob(interval time.Duration) jobs.Job {
	if interval <= 0 {
		interval = time.Hour
	}
	return jobs.Job{Name: RetentionJobName, Interval: interval, Run: func(ctx context.Context) error {
		_, err := s.RunRetention(ctx)
		return err
	}}
}

// RetentionReport says what a retention run did.
type RetentionReport struct {
	Ended  int // subscriptions whose term ran out, now marked ended
	Purged []string
}

// RunRetention marks subscriptions whose term is over as ended and purges
// Enterprise subscriptions that ended more than Config.Retention ago: each
// purge runs the PurgeEnterprise hooks (the management portal deletes its
// policies, golden images, profiles there) and marks the subscription
// purged, in one transaction per subscription. Activations under an ended
// subscription already stop validating ("expired") without this job.
func (s *Service) RunRetention(ctx context.Context) (*RetentionReport, error) {
	now := s.now()
	rep := &RetentionReport{}
	res, err := s.DB.Exec(ctx, `UPDATE subscriptions SET status = 'ended' WHERE status = 'active' AND ends_at <= ?`, store.At(now))
	if err != nil {
		return nil, fmt.Errorf("retention: mark ended: %w", err)
	}
	n, _ := res.RowsAffected()
	rep.Ended = int(n)
	// A suspended Enterprise subscription is purged the same way, counted
	// from its end date: suspension alone keeps its settings (a suspended
	// trial's golden images stay available to the purchased subscription).
	cutoff := store.At(now.Add(-s.Config.Retention))
	subs, err := querySubscriptions(ctx, s.DB, `WHERE s.edition = 'enterprise' AND s.purged_at IS NULL AND s.ends_at <= ? ORDER BY s.ends_at LIMIT 500`, cutoff)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	actor := audit.System(RetentionJobName)
	for _, sub := range subs {
		purged := false
		err := s.DB.InTx(ctx, func(tx *store.Tx) error {
			r, err := tx.Exec(ctx, `UPDATE subscriptions SET purged_at = ?, status = CASE WHEN status = 'active' THEN 'ended' ELSE status END
				WHERE id = ? AND purged_at IS NULL AND ends_at <= ?`, store.At(now), sub.ID, cutoff)
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n != 1 {
				return nil // extended or purged meanwhile
			}
			purged = true
			if sub.AccountID != "" {
				for _, h := range s.Hooks.PurgeEnterprise {
					if err := h(ctx, tx, sub.AccountID, sub.ID); err != nil {
						return fmt.Errorf("purge hook: %w", err)
					}
				}
			}
			return audit.Record(ctx, tx, actor, audit.Entry{AccountID: sub.AccountID, Action: "license.enterprise_settings_purged",
				TargetType: "subscription", TargetID: sub.ID, TargetLabel: sub.Label(),
				After: map[string]any{"ended_at": sub.EndsAt.Time, "retention_days": int(s.Config.Retention.Hours() / 24)}})
		})
		if err != nil {
			return rep, fmt.Errorf("retention: purge %s: %w", sub.ID, err)
		}
		if purged {
			rep.Purged = append(rep.Purged, sub.ID)
		}
	}
	return rep, nil
}
