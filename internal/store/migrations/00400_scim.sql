-- +goose Up
-- SCIM 2.0 server (internal/scim): per-account settings and bearer tokens,
-- provisioned users and groups, group memberships.
CREATE TABLE scim_settings (
    account_id      TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    last_request_at BIGINT,
    last_error      TEXT NOT NULL DEFAULT '',
    last_error_at   BIGINT
);

-- A token is valid while retired_at IS NULL or retired_at > now: regenerating
-- sets the previous token's retired_at to now + overlap.
CREATE TABLE scim_tokens (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    last4      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE INDEX scim_tokens_account ON scim_tokens(account_id);

-- data holds the resource as JSON (without id, meta, password, computed
-- groups); the columns beside it are what filters and uniqueness use.
CREATE TABLE scim_users (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_name         TEXT NOT NULL,
    user_name_norm    TEXT NOT NULL,
    external_id       TEXT,
    display_name      TEXT NOT NULL DEFAULT '',
    display_name_norm TEXT NOT NULL DEFAULT '',
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    data              TEXT NOT NULL,
    created           BIGINT NOT NULL,
    last_modified     BIGINT NOT NULL,
    version           BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX scim_users_account_id ON scim_users(account_id, id);
CREATE UNIQUE INDEX scim_users_user_name ON scim_users(account_id, user_name_norm);
CREATE INDEX scim_users_external_id ON scim_users(account_id, external_id);
CREATE INDEX scim_users_display_name ON scim_users(account_id, display_name_norm);

CREATE TABLE scim_groups (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    display_name      TEXT NOT NULL,
    display_name_norm TEXT NOT NULL,
    external_id       TEXT,
    data              TEXT NOT NULL,
    created           BIGINT NOT NULL,
    last_modified     BIGINT NOT NULL,
    version           BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX scim_groups_account_id ON scim_groups(account_id, id);
CREATE INDEX scim_groups_external_id ON scim_groups(account_id, external_id);
CREATE INDEX scim_groups_display_name ON scim_groups(account_id, display_name_norm);

-- The composite foreign keys make a membership across accounts impossible.
CREATE TABLE scim_group_members (
    account_id TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (account_id, group_id) REFERENCES scim_groups(account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, user_id) REFERENCES scim_users(account_id, id) ON DELETE CASCADE
);
CREATE INDEX scim_group_members_user ON scim_group_members(account_id, user_id);

-- +goose Down
DROP TABLE scim_group_members;
DROP TABLE scim_groups;
DROP TABLE scim_users;
DROP TABLE scim_tokens;
DROP TABLE scim_settings;
