-- +goose Up
-- IdP integration configurator (internal/idp): one row per business account
-- that started configuring, its email domains with their DNS verification
-- state. SCIM tokens and the SCIM on/off switch live with the SCIM server
-- (00400); SAML requests and the replay cache with the SAML SP (00300).
CREATE TABLE idp_integrations (
    account_id        TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    provider          TEXT NOT NULL CHECK (provider IN ('entra', 'okta', 'ping', 'jumpcloud', 'google', 'other')),
    step2_done        BOOLEAN NOT NULL DEFAULT FALSE,
    step4_done        BOOLEAN NOT NULL DEFAULT FALSE,
    step5_done        BOOLEAN NOT NULL DEFAULT FALSE,
    step6_done        BOOLEAN NOT NULL DEFAULT FALSE,
    admins_group_name TEXT NOT NULL DEFAULT '',
    admins_group_uuid TEXT NOT NULL DEFAULT '',
    users_group_name  TEXT NOT NULL DEFAULT '',
    users_group_uuid  TEXT NOT NULL DEFAULT '',
    idp_entity_id     TEXT NOT NULL DEFAULT '',
    idp_sso_url       TEXT NOT NULL DEFAULT '',
    idp_sso_binding   TEXT NOT NULL DEFAULT 'redirect',
    idp_certificates  TEXT NOT NULL DEFAULT '',
    backup_person_id  TEXT REFERENCES people(id) ON DELETE SET NULL,
    active            BOOLEAN NOT NULL DEFAULT FALSE,
    activated_at      BIGINT,
    deactivated_at    BIGINT,
    started_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- A domain may be listed (pending) by several accounts, but verified by one
-- only: the partial unique index decides a race between two verifications.
CREATE TABLE idp_domains (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    domain          TEXT NOT NULL,
    txt_name        TEXT NOT NULL,
    txt_value       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'verified', 'failed')),
    checks          INTEGER NOT NULL DEFAULT 0,
    last_checked_at BIGINT,
    last_found      TEXT NOT NULL DEFAULT '',
    window_until    BIGINT NOT NULL,
    next_check_at   BIGINT,
    verified_at     BIGINT,
    created_at      BIGINT NOT NULL,
    UNIQUE (account_id, domain)
);
CREATE UNIQUE INDEX idp_domains_verified ON idp_domains(domain) WHERE status = 'verified';
CREATE INDEX idp_domains_due ON idp_domains(status, next_check_at);

-- +goose Down
DROP TABLE idp_domains;
DROP TABLE idp_integrations;
