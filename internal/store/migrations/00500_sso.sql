-- +goose Up
-- A person's identity at a business account's IdP, so that later sign-ins,
-- SCIM changes and SSO seats find the same person (spec 03 identity linking).
CREATE TABLE sso_identities (
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    person_id       TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    object_id       TEXT NOT NULL DEFAULT '',
    name_norm       TEXT NOT NULL DEFAULT '',
    scim_user_id    TEXT NOT NULL DEFAULT '',
    groups_json     TEXT NOT NULL DEFAULT '[]',
    created_at      BIGINT NOT NULL,
    last_sign_in_at BIGINT,
    PRIMARY KEY (account_id, person_id)
);
CREATE INDEX sso_identities_object ON sso_identities(account_id, object_id);
CREATE INDEX sso_identities_name ON sso_identities(account_id, name_norm);
CREATE INDEX sso_identities_scim ON sso_identities(account_id, scim_user_id);

-- Refused SSO sign-ins, for the person's reference code and the admins'
-- "recent SSO failures" list.
CREATE TABLE sso_failures (
    id         TEXT PRIMARY KEY,
    account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    reference  TEXT NOT NULL,
    at         BIGINT NOT NULL,
    purpose    TEXT NOT NULL,
    code       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    subject    TEXT NOT NULL DEFAULT '',
    source_ip  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sso_failures_account ON sso_failures(account_id, at);

-- +goose Down
DROP TABLE sso_failures;
DROP TABLE sso_identities;
