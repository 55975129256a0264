-- +goose Up
-- Licensing: subscriptions issued by the vendor, their license keys (primary
-- and sublicense), per-device activations and email invitations. The seat
-- counters (subscriptions.reserved/shared_used, license_keys.used) are only
-- ever changed by conditional UPDATEs; see internal/license/doc.go for the
-- invariants the CHECK constraints below back up.

CREATE TABLE subscriptions (
    id            TEXT PRIMARY KEY,
    -- NULL until the primary key is registered into a business account.
    account_id    TEXT REFERENCES accounts(id),
    name          TEXT NOT NULL DEFAULT '',
    edition       TEXT NOT NULL CHECK (edition IN ('business', 'enterprise')),
    model         TEXT NOT NULL CHECK (model IN ('per_device', 'per_user', 'mixed')),
    seats         INTEGER NOT NULL CHECK (seats >= 1),
    reserved      INTEGER NOT NULL DEFAULT 0,
    shared_used   INTEGER NOT NULL DEFAULT 0,
    trial         BOOLEAN NOT NULL DEFAULT FALSE,
    status        TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'ended')),
    starts_at     BIGINT NOT NULL,
    ends_at       BIGINT NOT NULL,
    suspended_at  BIGINT,
    purged_at     BIGINT,
    note          TEXT NOT NULL DEFAULT '',
    issued_at     BIGINT NOT NULL,
    registered_at BIGINT,
    CHECK (reserved >= 0 AND shared_used >= 0 AND reserved + shared_used <= seats)
);
CREATE INDEX subscriptions_account ON subscriptions(account_id);
-- At most one Enterprise subscription per business account (a trial counts
-- until it is suspended or has ended).
CREATE UNIQUE INDEX subscriptions_one_enterprise ON subscriptions(account_id)
    WHERE edition = 'enterprise' AND status = 'active';

CREATE TABLE license_keys (
    id              TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
    account_id      TEXT REFERENCES accounts(id),
    kind            TEXT NOT NULL CHECK (kind IN ('primary', 'reserved', 'dynamic')),
    name            TEXT NOT NULL DEFAULT '',
    key_hash        TEXT NOT NULL UNIQUE,
    key_last        TEXT NOT NULL,
    key_sealed      TEXT NOT NULL,
    seats           INTEGER NOT NULL DEFAULT 0,
    used            INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    deleted_at      BIGINT,
    CHECK (used >= 0 AND seats >= 0 AND (kind = 'primary' OR used <= seats))
);
CREATE UNIQUE INDEX license_keys_one_primary ON license_keys(subscription_id) WHERE kind = 'primary';
CREATE INDEX license_keys_account ON license_keys(account_id, subscription_id);

CREATE TABLE license_key_admins (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    key_id     TEXT NOT NULL REFERENCES license_keys(id) ON DELETE CASCADE,
    person_id  TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, person_id)
);
CREATE INDEX license_key_admins_person ON license_key_admins(account_id, person_id);

CREATE TABLE license_activations (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
    key_id          TEXT NOT NULL REFERENCES license_keys(id),
    hardware_uuid   TEXT NOT NULL,
    serial          TEXT NOT NULL DEFAULT '',
    computer_name   TEXT NOT NULL DEFAULT '',
    macos_user      TEXT NOT NULL DEFAULT '',
    app_version     TEXT NOT NULL DEFAULT '',
    method          TEXT NOT NULL CHECK (method IN ('key', 'invitation', 'sso')),
    invitation_id   TEXT,
    person_id       TEXT,
    status          TEXT NOT NULL CHECK (status IN ('active', 'deactivated')),
    credential_hash TEXT NOT NULL UNIQUE,
    activated_at    BIGINT NOT NULL,
    last_check_at   BIGINT NOT NULL,
    deactivated_at  BIGINT,
    deactivated_by  TEXT NOT NULL DEFAULT '',
    UNIQUE (key_id, hardware_uuid)
);
CREATE INDEX license_activations_account ON license_activations(account_id, key_id, status);

CREATE TABLE license_invitation_batches (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    key_id          TEXT NOT NULL REFERENCES license_keys(id),
    idempotency_key TEXT NOT NULL,
    invitations     INTEGER NOT NULL,
    created_by      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    UNIQUE (account_id, idempotency_key)
);

CREATE TABLE license_invitations (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    key_id        TEXT NOT NULL REFERENCES license_keys(id),
    batch_id      TEXT NOT NULL REFERENCES license_invitation_batches(id),
    email         TEXT NOT NULL,
    language      TEXT NOT NULL,
    code_hash     TEXT NOT NULL UNIQUE,
    code_sealed   TEXT NOT NULL,
    valid_days    INTEGER NOT NULL,
    created_by    TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT,
    activation_id TEXT,
    revoked_at    BIGINT,
    sent_count    INTEGER NOT NULL DEFAULT 0,
    last_sent_at  BIGINT
);
CREATE INDEX license_invitations_account ON license_invitations(account_id, key_id, created_at);

-- +goose Down
DROP TABLE license_invitations;
DROP TABLE license_invitation_batches;
DROP TABLE license_activations;
DROP TABLE license_key_admins;
DROP TABLE license_keys;
DROP TABLE subscriptions;
