-- +goose Up
-- Membership lookups filter on (account_id, group_id) or (account_id,
-- user_id). With the primary key (group_id, user_id) and an index on
-- (account_id, user_id) only, SQLite's planner walked every membership of
-- the account for a group's members (seconds at 100,000 memberships). Two
-- covering indexes, one per direction, leading with account_id.
DROP INDEX scim_group_members_user;
CREATE INDEX scim_group_members_by_user ON scim_group_members(account_id, user_id, group_id);
CREATE UNIQUE INDEX scim_group_members_by_group ON scim_group_members(account_id, group_id, user_id);

-- +goose Down
DROP INDEX scim_group_members_by_group;
DROP INDEX scim_group_members_by_user;
CREATE INDEX scim_group_members_user ON scim_group_members(account_id, user_id);
