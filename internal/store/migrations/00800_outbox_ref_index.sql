-- +goose Up
-- The invitations list shows the delivery state of each invitation's latest
-- email: a lookup of outbox rows by (ref_type, ref_id), newest first, per
-- listed invitation. Without an index each was a scan of the whole outbox.
CREATE INDEX outbox_ref ON outbox(ref_type, ref_id, created_at);
-- The purge of delivered mail (mail.PurgeJob) finds old sent rows.
CREATE INDEX outbox_sent_at ON outbox(sent_at) WHERE status = 'sent';

-- +goose Down
DROP INDEX outbox_sent_at;
DROP INDEX outbox_ref;
