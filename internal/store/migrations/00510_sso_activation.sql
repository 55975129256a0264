-- +goose Up
-- SSO activation of Desktop (spec 04): IdP groups mapped to license keys,
-- per-user seats, per-account settings and activation attempts. A per-user
-- seat counts once in license_keys.used of its key (and in
-- subscriptions.shared_used when that key is primary or dynamic), however
-- many devices the person activates; see internal/license/peruser.go.

-- A key's User Groups tab: IdP groups (the UUID the IdP sends, and its
-- display name) whose members take their seat from the key. A group maps to
-- one key of the account (group_norm is the lower-cased UUID).
CREATE TABLE license_key_groups (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    key_id       TEXT NOT NULL REFERENCES license_keys(id),
    group_uuid   TEXT NOT NULL,
    group_norm   TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    UNIQUE (account_id, group_norm)
);
CREATE INDEX license_key_groups_key ON license_key_groups(account_id, key_id);

-- Per-user (SSO) seats. At most one active seat per person and account;
-- devices counts the person's active SSO activations on the seat's key and
-- never exceeds the account's device cap (conditional UPDATE).
CREATE TABLE license_user_seats (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
    key_id          TEXT NOT NULL REFERENCES license_keys(id),
    person_id       TEXT NOT NULL REFERENCES people(id),
    status          TEXT NOT NULL CHECK (status IN ('active', 'released')),
    devices         INTEGER NOT NULL DEFAULT 0 CHECK (devices >= 0),
    groups_json     TEXT NOT NULL DEFAULT '[]',
    granted_at      BIGINT NOT NULL,
    last_used_at    BIGINT NOT NULL,
    released_at     BIGINT,
    released_reason TEXT NOT NULL DEFAULT '',
    released_by     TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX license_user_seats_one ON license_user_seats(account_id, person_id) WHERE status = 'active';
CREATE INDEX license_user_seats_key ON license_user_seats(account_id, key_id, status);

CREATE INDEX license_activations_person ON license_activations(account_id, person_id, status);

-- Per-account settings of per-user licensing.
CREATE TABLE license_sso_settings (
    account_id      TEXT PRIMARY KEY REFERENCES accounts(id),
    device_cap      INTEGER NOT NULL DEFAULT 5 CHECK (device_cap >= 1 AND device_cap <= 100),
    inactivity_days INTEGER NOT NULL DEFAULT 0 CHECK (inactivity_days >= 0 AND inactivity_days <= 3650),
    updated_at      BIGINT NOT NULL
);

-- Desktop SSO activation attempts: created by the installation (with its
-- S256 code challenge), completed at the ACS, redeemed once by the
-- installation that knows the verifier. Kept in the database so that any
-- node can serve any step.
CREATE TABLE sso_activation_attempts (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    email             TEXT NOT NULL,
    hardware_uuid     TEXT NOT NULL,
    serial            TEXT NOT NULL DEFAULT '',
    computer_name     TEXT NOT NULL DEFAULT '',
    macos_user        TEXT NOT NULL DEFAULT '',
    app_version       TEXT NOT NULL DEFAULT '',
    challenge         TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'completed', 'refused', 'redeemed')),
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    completed_at      BIGINT,
    redeemed_at       BIGINT,
    person_id         TEXT,
    key_id            TEXT,
    activation_id     TEXT,
    refusal_code      TEXT NOT NULL DEFAULT '',
    refusal_message   TEXT NOT NULL DEFAULT '',
    refusal_reference TEXT NOT NULL DEFAULT '',
    source_ip         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sso_activation_attempts_account ON sso_activation_attempts(account_id, created_at);
CREATE INDEX sso_activation_attempts_expiry ON sso_activation_attempts(expires_at);

-- +goose Down
DROP TABLE sso_activation_attempts;
DROP TABLE license_sso_settings;
DROP INDEX license_activations_person;
DROP TABLE license_user_seats;
DROP TABLE license_key_groups;
