-- +goose Up
-- Two live keys of one subscription may not share a name (case-insensitive):
-- the UI names keys after groups, and a form sent twice must not create two.
CREATE UNIQUE INDEX license_keys_name ON license_keys(subscription_id, lower(name)) WHERE deleted_at IS NULL;

-- +goose Down
DROP INDEX license_keys_name;
