-- +goose Up
-- The inventory sorts and filters present VMs on "Last reported" by
-- reading fleet_seen in this index's order and joining each installation's
-- VMs (internal/fleet/inventory.go). With installation_id in the index the
-- walk needs no table lookup to find the join key. It replaces the
-- (account_id, last_seen_at) index rather than adding one, so the batched
-- last-seen flush still maintains a single secondary index.
CREATE INDEX fleet_seen_account_seen ON fleet_seen(account_id, last_seen_at, installation_id);
DROP INDEX fleet_seen_account;

-- +goose Down
CREATE INDEX fleet_seen_account ON fleet_seen(account_id, last_seen_at);
DROP INDEX fleet_seen_account_seen;
