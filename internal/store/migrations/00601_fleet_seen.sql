-- +goose Up
-- Last seen, off the main rows (docs/decisions.md): the times of check-ins
-- are buffered per node and flushed in batches into this narrow table, so
-- a flush never rewrites a wide, many-indexed host or VM row. The
-- inventory's "Last reported" of a present VM (gone_at IS NULL) is its
-- installation's last_seen_at here; a gone VM keeps in fleet_vms.last_seen_at
-- when it was last reported.
CREATE TABLE fleet_seen (
    installation_id TEXT PRIMARY KEY REFERENCES fleet_hosts(installation_id) ON DELETE CASCADE,
    account_id      TEXT NOT NULL,
    last_seen_at    BIGINT NOT NULL
);
CREATE INDEX fleet_seen_account ON fleet_seen(account_id, last_seen_at);
INSERT INTO fleet_seen (installation_id, account_id, last_seen_at)
    SELECT installation_id, account_id, last_seen_at FROM fleet_hosts;
DROP INDEX fleet_hosts_seen;
DROP INDEX fleet_vms_account_reported;
ALTER TABLE fleet_hosts DROP COLUMN last_seen_at;

-- +goose Down
ALTER TABLE fleet_hosts ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE fleet_hosts SET last_seen_at = COALESCE((SELECT s.last_seen_at FROM fleet_seen s WHERE s.installation_id = fleet_hosts.installation_id), 0);
CREATE INDEX fleet_hosts_seen ON fleet_hosts(account_id, last_seen_at);
CREATE INDEX fleet_vms_account_reported ON fleet_vms(account_id, last_seen_at, id) WHERE gone_at IS NULL;
DROP TABLE fleet_seen;
